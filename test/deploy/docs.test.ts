// docs/deploy.md carries the configuration reference generated from the typed config: it fails here
// when someone adds or changes a key without regenerating (npx tsx --conditions=@armillaria/source
// scripts/gen-deploy-docs.mjs).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configKeys } from '@armillaria/core';
import { gatewayConfigKeys } from '@armillaria/query-gateway';
import { BEGIN, DEPLOY_DOC, END, renderDeployDocs } from '../../scripts/gen-deploy-docs.mjs';

describe('docs/deploy.md', () => {
  const text = readFileSync(DEPLOY_DOC, 'utf8');

  it('holds exactly the generated configuration reference', () => {
    expect(renderDeployDocs(text), 'docs/deploy.md is stale: regenerate it with scripts/gen-deploy-docs.mjs').toBe(text);
  });

  it('names every key of the typed config and of the gateway, each once', () => {
    const block = text.slice(text.indexOf(BEGIN), text.indexOf(END));
    for (const key of [...configKeys.map((k) => k.env), ...gatewayConfigKeys.map(([env]) => env)]) {
      expect(block.split(`| \`${key}\` |`).length - 1, key).toBe(1);
    }
  });

  it('notices a stale reference', () => {
    const stale = text.replace('| `ARMILLARIA_PORT` |', '| `ARMILLARIA_PORTS` |');
    expect(stale).not.toBe(text);
    expect(renderDeployDocs(stale)).toBe(text);
    expect(() => renderDeployDocs('no markers here')).toThrow(/markers/);
  });
});
