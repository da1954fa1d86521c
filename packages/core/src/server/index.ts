// Fastify helpers shared by every service: `@armillaria/core/server`.
export { createServiceApp } from './service-app.js';
export type { ServiceAppOptions } from './service-app.js';
