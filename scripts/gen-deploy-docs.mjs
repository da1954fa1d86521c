#!/usr/bin/env node
// Regenerates the configuration reference in docs/deploy.md from the typed config, so the table is
// never written by hand twice: `configReference()` of @armillaria/core (every service) and
// `gatewayConfigKeys` of @armillaria/query-gateway (the gateway alone). Only the text between the
// GENERATED markers changes.
//
//   npx tsx --conditions=@armillaria/source scripts/gen-deploy-docs.mjs          # rewrite
//   npx tsx --conditions=@armillaria/source scripts/gen-deploy-docs.mjs --check  # exit 1 when stale
// test/deploy/docs.test.ts runs the same check.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configReference } from '@armillaria/core';
import { gatewayConfigKeys } from '@armillaria/query-gateway';

export const DEPLOY_DOC = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'deploy.md');
export const BEGIN = '<!-- BEGIN GENERATED: scripts/gen-deploy-docs.mjs (do not edit by hand) -->';
export const END = '<!-- END GENERATED -->';

const cell = (text) => String(text).replaceAll('|', '\\|').replaceAll('<', '&lt;');

/** The generated block: every service's keys, then the gateway's. */
export function generatedReference() {
  const gateway = gatewayConfigKeys.map(([env, doc]) => `| \`${env}\` | ${cell(doc)} |`);
  return [
    '### Every service (`loadConfig()`)',
    '',
    configReference(),
    '',
    '### Gateway only (`loadGatewayConfig()`)',
    '',
    '| variable | meaning |',
    '|---|---|',
    ...gateway,
  ].join('\n');
}

/** `text` with its generated block replaced; throws when the markers are missing. */
export function renderDeployDocs(text) {
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${DEPLOY_DOC}: markers ${BEGIN} ... ${END} not found`);
  return `${text.slice(0, start + BEGIN.length)}\n${generatedReference()}\n${text.slice(end)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const current = readFileSync(DEPLOY_DOC, 'utf8');
  const next = renderDeployDocs(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      console.error('docs/deploy.md is stale: run npx tsx --conditions=@armillaria/source scripts/gen-deploy-docs.mjs');
      process.exit(1);
    }
    console.log('docs/deploy.md is up to date');
  } else if (next !== current) {
    writeFileSync(DEPLOY_DOC, next);
    console.log('docs/deploy.md updated');
  } else {
    console.log('docs/deploy.md already up to date');
  }
}
