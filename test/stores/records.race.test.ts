/**
 * The Job Queue's sweep in miniature: 8 OS processes, each with its own connection, sweep the same
 * 300 due records at the same moment and claim each by compare-and-set on its version. Every
 * record must be won by exactly one process, and hold that process's write.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { backends, describeWithService, type Backend } from './backends';
import { transpileStores, type Sources } from './sources';
import { waitFor as waitForMessage } from './workers';

const WORKERS = 8;
const RECORDS = 300;
/** Smaller than RECORDS, so each worker sweeps several times and the sweeps overlap. */
const BATCH = 40;

type Won = [key: string, version: number];
type Message =
	| { type: 'ready' }
	| { type: 'done'; won: Won[]; lost: number; sweeps: number }
	| { type: 'error'; message: string };

const waitFor = <T extends Message['type']>(child: ChildProcess, type: T) =>
	waitForMessage<Message, T>(child, type);

const shared = backends().filter((b) => b.kind !== 'memory');

describe.each(shared)('$name under concurrent record sweeps', (backend: Backend) => {
	describeWithService(
		backend.service ?? '',
		backend.available,
		`${backend.name}: ${WORKERS} processes sweep ${RECORDS} due records`,
		() => {
			const children: ChildProcess[] = [];
			let sources: Sources;
			beforeAll(() => {
				sources = transpileStores();
			});
			afterAll(async () => {
				for (const child of children) if (child.exitCode === null) child.kill();
				sources?.cleanup();
				await backend.cleanup();
			});

			it('each record is won by exactly one process, which holds its write', async () => {
				const namespace = `records-race-${Date.now()}`;
				const store = backend.make();
				try {
					const created = Date.now();
					const versions = await Promise.all(
						Array.from({ length: RECORDS }, (_, i) =>
							store.putRecord(
								namespace,
								`job-${i}`,
								{ value: { n: i }, dueAt: created - RECORDS + i, tag: 'queued', ttlMs: 3_600_000 },
								0,
							),
						),
					);
					expect(versions.every((v) => v === 1)).toBe(true);
					// Not due: must not be touched.
					await store.putRecord(
						namespace,
						'later',
						{ value: {}, dueAt: created + 3_600_000, tag: 'queued', ttlMs: 3_600_000 },
						0,
					);

					for (let w = 0; w < WORKERS; w++)
						children.push(
							fork(join(__dirname, 'records-worker.js'), [], {
								execArgv: ['--disable-warning=ExperimentalWarning'],
								env: sources.env,
							}),
						);
					const ready = children.map((child) => waitFor(child, 'ready'));
					const done = children.map((child) => waitFor(child, 'done'));
					children.forEach((child, worker) =>
						child.send({
							type: 'init',
							config: backend.workerConfig(),
							sourceDir: sources.dir,
							namespace,
							worker,
							batch: BATCH,
						}),
					);
					await Promise.all(ready);
					for (const child of children) child.send({ type: 'go' });
					const results = await Promise.all(done);

					const winner = new Map<string, number>();
					results.forEach(({ won }, worker) => {
						for (const [key, version] of won) {
							expect(winner.has(key)).toBe(false); // a second win would be a double claim
							expect(version).toBe(2);
							winner.set(key, worker);
						}
					});
					expect(winner.size).toBe(RECORDS);
					// The race happened: workers tried records that another had just taken.
					const lost = results.reduce((sum, r) => sum + r.lost, 0);
					expect(lost).toBeGreaterThan(0);
					process.stderr.write(
						`${backend.name}: wins per worker ${results.map((r) => r.won.length).join('/')}, ` +
							`${lost} lost compare-and-sets, ${results.reduce((s, r) => s + r.sweeps, 0)} sweeps\n`,
					);

					for (const [key, worker] of winner)
						expect(await store.getRecord(namespace, key)).toMatchObject({
							value: { n: Number(key.slice(4)), owner: worker },
							version: 2,
							tag: 'running',
						});
					expect(await store.countRecords(namespace)).toEqual({
						running: RECORDS,
						queued: 1,
					});
					expect(await store.dueRecords(namespace, 1000)).toEqual([]);
					expect((await store.getRecord(namespace, 'later'))?.version).toBe(1);
				} finally {
					await store.close();
				}
			}, 60_000);
		},
	);
});
