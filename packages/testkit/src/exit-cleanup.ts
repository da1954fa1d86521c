/**
 * Last-resort cleanup when a test process ends without running its teardown (a crash, `process.exit`,
 * SIGINT/SIGTERM/SIGHUP). Handlers must be synchronous: nothing asynchronous runs after 'exit'.
 * Normal teardown removes its handler first, so this only fires for what was left behind.
 */
const handlers = new Set<() => void>();
let installed = false;
const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function runAll(): void {
  for (const handler of [...handlers]) {
    handlers.delete(handler);
    try {
      handler();
    } catch {
      // Best effort: one failing cleanup must not stop the others.
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  // If nobody else handles the signal, restore the default behaviour (terminate) by re-raising it.
  for (const s of signals) process.removeListener(s, onSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/** Registers a synchronous cleanup; returns a function that unregisters it. */
export function onExitCleanup(handler: () => void): () => void {
  if (!installed) {
    installed = true;
    process.on('exit', runAll);
    for (const s of signals) process.on(s, onSignal);
  }
  handlers.add(handler);
  return () => {
    handlers.delete(handler);
  };
}
