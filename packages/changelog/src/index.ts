// Public API of @armillaria/changelog.
export type { ChangeEvent, RowChange, DeliveredEvent, ChangeBus, BusFilter } from './change-bus.js';
export { messageId, assertChangeEvent } from './change-event.js';
export { encodeSubjectToken, decodeSubjectToken, changeSubject, DEFAULT_SUBJECT_PREFIX } from './subjects.js';
export { EmbeddedChangeBus } from './backends/embedded-change-bus.js';
export type { EmbeddedChangeBusOptions } from './backends/embedded-change-bus.js';
export { NatsChangeBus, DEFAULT_CHANGE_STREAM, DEFAULT_DUPLICATE_WINDOW_MS } from './backends/nats-change-bus.js';
export type { NatsChangeBusOptions } from './backends/nats-change-bus.js';
