/**
 * The store sources for worker processes: lib/hash.ts, lib/stores/*.ts and the `extra` files a
 * test's workers need (repository paths) transpiled once into a
 * temporary folder, so the cross-process tests race the code under test rather than whatever dist/
 * last built, and no worker pays for loading TypeScript. Workers find ioredis and pg through
 * NODE_PATH (workerEnv).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ts from 'typescript';

const root = join(__dirname, '..', '..');

export interface Sources {
	/** Require `${dir}/lib/stores` for createStore. */
	dir: string;
	env: NodeJS.ProcessEnv;
	cleanup(): void;
}

export function transpileStores(extra: string[] = []): Sources {
	const dir = mkdtempSync(join(tmpdir(), 'aip-store-sources-'));
	const files = [
		'lib/hash.ts',
		...extra,
		...readdirSync(join(root, 'lib/stores'))
			.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
			.map((f) => `lib/stores/${f}`),
	];
	for (const file of files) {
		const { outputText } = ts.transpileModule(readFileSync(join(root, file), 'utf8'), {
			fileName: file,
			compilerOptions: {
				module: ts.ModuleKind.CommonJS,
				target: ts.ScriptTarget.ES2022,
				esModuleInterop: true,
			},
		});
		const out = join(dir, file.replace(/\.ts$/, '.js'));
		mkdirSync(dirname(out), { recursive: true });
		writeFileSync(out, outputText);
	}
	const nodePath = [join(root, 'node_modules'), process.env.NODE_PATH].filter(Boolean).join(':');
	return {
		dir,
		env: { ...process.env, NODE_PATH: nodePath },
		cleanup: () => rmSync(dir, { recursive: true, force: true }),
	};
}
