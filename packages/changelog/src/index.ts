// Public API of @armillaria/changelog.
export type { ChangeEvent, RowChange, DeliveredEvent, ChangeBus, BusFilter } from './change-bus.js';
