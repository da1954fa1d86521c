// Public API of @armillaria/txn-coordinator.
export {};
