// Placeholder until the dev-services harness lands: starts nothing.
export default async function setup(): Promise<void> {}
