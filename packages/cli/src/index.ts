// Public API of @armillaria/cli (the command is `src/main.ts`; these are for embedding and tests).
export { buildProgram } from './program.js';
export type { Io } from './program.js';
export { importFile, IMPORT_MODES } from './import-file.js';
export type { ImportOptions, ImportResult, ImportMode } from './import-file.js';
export { FileReader, fileFormat, FILE_FORMATS } from './file-reader.js';
export type { FileFormat } from './file-reader.js';
export { Progress } from './progress.js';
export { renderResult, outputFormat, OUTPUT_FORMATS } from './output.js';
export type { OutputFormat } from './output.js';
export { serve, buildServeApp } from './serve.js';
export type { ServeOptions, ServeApp } from './serve.js';
export { targetOf } from './context.js';
export type { GlobalOptions, Target } from './context.js';
