// Internals shared with sibling packages (not part of the public API).
export {};
