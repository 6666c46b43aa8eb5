/**
 * n8n queue mode in miniature: 8 OS processes, each with its own connection, fire 500 claims over
 * the same 100 keys at the same moment. Exactly 100 may come back New — one per key.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { backends, describeWithService, type Backend } from './backends';
import { transpileStores, type Sources } from './sources';
import { waitFor as waitForMessage } from './workers';

const WORKERS = 8;
const CLAIMS_PER_WORKER = 500;
const KEYS = 100;

type Outcome = [key: string, outcome: string, token: string];
type Message =
	| { type: 'ready' }
	| { type: 'done'; outcomes: Outcome[] }
	| { type: 'error'; message: string };

/** 500 claims per worker: each key 5 times, in an order of the worker's own. */
function keysFor(worker: number): string[] {
	const keys = Array.from({ length: CLAIMS_PER_WORKER }, (_, i) => `key-${i % KEYS}`);
	let seed = worker + 1;
	for (let i = keys.length - 1; i > 0; i--) {
		seed = (seed * 1103515245 + 12345) % 2 ** 31;
		const j = seed % (i + 1);
		[keys[i], keys[j]] = [keys[j], keys[i]];
	}
	return keys;
}

const waitFor = <T extends Message['type']>(child: ChildProcess, type: T) =>
	waitForMessage<Message, T>(child, type);

const shared = backends().filter((b) => b.kind !== 'memory');

describe.each(shared)('$name under concurrent claims', (backend: Backend) => {
	describeWithService(
		backend.service ?? '',
		backend.available,
		`${backend.name}: ${WORKERS} processes × ${CLAIMS_PER_WORKER} claims over ${KEYS} keys`,
		() => {
			const children: ChildProcess[] = [];
			// The workers run the current sources, transpiled once (not dist/, which may be stale).
			let sources: Sources;
			beforeAll(() => {
				sources = transpileStores();
			});
			afterAll(async () => {
				for (const child of children) if (child.exitCode === null) child.kill();
				sources?.cleanup();
				await backend.cleanup();
			});

			it('gives exactly one New per key', async () => {
				const namespace = `concurrency-${Date.now()}`;
				for (let w = 0; w < WORKERS; w++)
					children.push(
						fork(join(__dirname, 'claim-worker.js'), [], {
							execArgv: ['--disable-warning=ExperimentalWarning'],
							env: sources.env,
						}),
					);
				const ready = children.map((child) => waitFor(child, 'ready'));
				const done = children.map((child) => waitFor(child, 'done'));
				children.forEach((child, w) =>
					child.send({
						type: 'init',
						config: backend.workerConfig(),
						sourceDir: sources.dir,
						namespace,
						keys: keysFor(w),
					}),
				);
				await Promise.all(ready);
				for (const child of children) child.send({ type: 'go' });
				const outcomes = (await Promise.all(done)).flatMap((m) => m.outcomes);

				expect(outcomes).toHaveLength(WORKERS * CLAIMS_PER_WORKER);
				const claimed = outcomes.filter(([, outcome]) => outcome === 'claimed');
				expect(claimed).toHaveLength(KEYS);
				expect(new Set(claimed.map(([key]) => key)).size).toBe(KEYS);
				expect(outcomes.filter(([, outcome]) => outcome === 'in_progress')).toHaveLength(
					WORKERS * CLAIMS_PER_WORKER - KEYS,
				);

				// Every loser saw the winner's claim, and the store holds the winner's token.
				const winner = new Map(claimed.map(([key, , token]) => [key, token]));
				for (const [key, , token] of outcomes) expect(token).toBe(winner.get(key));
				const store = backend.make();
				try {
					for (const [key, token] of winner)
						expect((await store.read(namespace, key))?.token).toBe(token);
				} finally {
					await store.close();
				}
			});
		},
	);
});
