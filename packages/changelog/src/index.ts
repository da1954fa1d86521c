// Public API of @armillaria/changelog.
export type { ChangeEvent, RowChange, DeliveredEvent, ChangeBus, BusFilter } from './change-bus.js';
export { messageId, assertChangeEvent } from './change-event.js';
export { encodeSubjectToken, decodeSubjectToken, changeSubject, DEFAULT_SUBJECT_PREFIX } from './subjects.js';
export { EmbeddedChangeBus } from './backends/embedded-change-bus.js';
export type { EmbeddedChangeBusOptions } from './backends/embedded-change-bus.js';
export { NatsChangeBus, DEFAULT_CHANGE_STREAM, DEFAULT_DUPLICATE_WINDOW_MS } from './backends/nats-change-bus.js';
export type { NatsChangeBusOptions } from './backends/nats-change-bus.js';
export { commitEvents, rowChanges } from './commit-events.js';
export type { CommitEventsOptions } from './commit-events.js';
export { Changelog } from './changelog.js';
export type { ChangelogOptions, SubscribeOptions, SubscribeFrom } from './changelog.js';
export { FsCursorStore, MemoryCursorStore, assertDurableName } from './cursor-store.js';
export type { Cursor, CursorStore } from './cursor-store.js';
