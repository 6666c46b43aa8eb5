/**
 * npm run bench:ai-call — the AI Call node in n8n's real engine against the simulator.
 *  1. 1,000 items at 100 ms latency: wall time at parallelism 1, 10 and 50 beside the ideal
 *     items × latency / parallelism (target: ≥ 90 % of ideal at 50).
 *  2. Per-call overhead at 0 ms latency: the node against a plain fetch loop over the same server
 *     (target: ≤ 0.5 ms median added per call).
 *  3. Peak memory for 10,000 items.
 * Prints a table and writes bench/results/ai-call.json. BENCH_ITEMS shrinks part 1 for a quick look.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IDataObject } from 'n8n-workflow';

import { runNode } from '../test/nodes/helpers';

const ITEMS = Number(process.env.BENCH_ITEMS ?? 1000);
const LATENCY = 100;

/** The simulator in its own process, as a real service would be: it must not share our event loop. */
interface RemoteSim {
	baseUrl: string;
	counters(): Promise<{ peakInFlight: number }>;
	reset(): Promise<void>;
	close(): Promise<void>;
}

function startRemoteSimulator(args: string[] = []): Promise<RemoteSim> {
	const child = spawn(
		process.execPath,
		[join(__dirname, '../simulator/cli.js'), '--port', '0', ...args],
		{
			stdio: ['ignore', 'pipe', 'inherit'],
		},
	);
	return new Promise((resolve, reject) => {
		let out = '';
		child.on('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
		child.stdout!.on('data', (d: Buffer) => {
			out += d.toString();
			const m = /listening on (http:\/\/\S+)/.exec(out);
			if (!m) return;
			const url = m[1];
			resolve({
				baseUrl: `${url}/v1`,
				counters: async () =>
					(await (await fetch(`${url}/_sim/counters`)).json()) as { peakInFlight: number },
				reset: async () => void (await fetch(`${url}/_sim/reset`, { method: 'POST' })),
				close: async () => {
					child.removeAllListeners('exit');
					child.kill();
				},
			});
		});
	});
}

/** The AI Call node in n8n's engine against the simulator, with `maxConcurrency` calls in flight. */
function run(sim: { baseUrl: string }, items: IDataObject[], maxConcurrency: number) {
	return runNode(
		'aiCall',
		{
			model: { mode: 'id', value: 'sim-standard' },
			userPrompt: '={{ $json.text }}',
			timeoutPreset: 'batch',
			options: { maxConcurrency, maxRetries: 0 },
		},
		items,
		{
			name: 'AI Call',
			credentials: { c: { provider: 'openai', baseUrl: sim.baseUrl, apiKey: 'sim-key' } },
			nodeCredentials: { aiServiceApi: { id: 'c', name: 'sim' } },
		},
	);
}

const median = (xs: number[]) => {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.floor(s.length / 2)];
};

async function main() {
	const items = (n: number) =>
		Array.from({ length: n }, (_, i) => ({ i, text: `Document ${i}: please pay the invoice` }));
	const results: Record<string, unknown> = {
		node: process.version,
		items: ITEMS,
		latencyMs: LATENCY,
	};
	const lines: string[] = [];

	// 1. parallelism
	const slow = await startRemoteSimulator(['--latency', String(LATENCY)]);
	const parallel: Array<Record<string, number>> = [];
	const body = JSON.stringify({
		model: 'sim-standard',
		messages: [{ role: 'user', content: 'Document 1: please pay the invoice' }],
	});
	const post = (baseUrl: string) =>
		fetch(`${baseUrl}/chat/completions`, {
			method: 'POST',
			headers: { authorization: 'Bearer sim-key', 'content-type': 'application/json' },
			body,
		}).then((r) => r.text());
	for (const p of [1, 10, 50]) {
		// the same calls from a plain fetch pool at the same parallelism: what this machine and simulator allow
		const f0 = performance.now();
		let next = 0;
		await Promise.all(
			Array.from({ length: p }, async () => {
				while (next++ < ITEMS) await post(slow.baseUrl);
			}),
		);
		const fetchWall = performance.now() - f0;
		await slow.reset();
		const t0 = performance.now();
		const r = await run(slow, items(ITEMS), p);
		const wall = performance.now() - t0;
		if (r.error) throw r.error;
		const ideal = (ITEMS * LATENCY) / p;
		parallel.push({
			parallelism: p,
			wallMs: Math.round(wall),
			idealMs: ideal,
			ofIdeal: Math.round((ideal / wall) * 1000) / 10,
			fetchWallMs: Math.round(fetchWall),
			fetchOfIdeal: Math.round((ideal / fetchWall) * 1000) / 10,
			peakInFlight: (await slow.counters()).peakInFlight,
			ok: r.outputs['AI Call'][0].length,
		});
		await slow.reset();
	}
	await slow.close();
	results.parallelism = parallel;
	lines.push(`${ITEMS} items at ${LATENCY} ms latency`);
	lines.push(
		'parallelism  ideal ms  node wall ms  % of ideal  plain fetch wall ms  % of ideal  peak in flight  succeeded',
	);
	for (const r of parallel) {
		lines.push(
			[
				String(r.parallelism).padStart(11),
				String(r.idealMs).padStart(8),
				String(r.wallMs).padStart(12),
				String(r.ofIdeal).padStart(10),
				String(r.fetchWallMs).padStart(19),
				String(r.fetchOfIdeal).padStart(10),
				String(r.peakInFlight).padStart(14),
				String(r.ok).padStart(9),
			].join('  '),
		);
	}

	// 2. overhead per call, sequential, 0 ms latency
	const fast = await startRemoteSimulator();
	const N = 1000;
	const fetchTimes: number[] = [];
	for (let i = 0; i < 50; i++)
		await fetch(`${fast.baseUrl}/chat/completions`, {
			method: 'POST',
			headers: { authorization: 'Bearer sim-key', 'content-type': 'application/json' },
			body,
		}).then((r) => r.text()); // warm-up
	const f0 = performance.now();
	for (let i = 0; i < N; i++) {
		const t = performance.now();
		const res = await fetch(`${fast.baseUrl}/chat/completions`, {
			method: 'POST',
			headers: { authorization: 'Bearer sim-key', 'content-type': 'application/json' },
			body,
		});
		JSON.parse(await res.text());
		fetchTimes.push(performance.now() - t);
	}
	const fetchWall = performance.now() - f0;
	await run(fast, items(50), 1); // warm-up
	const n0 = performance.now();
	const nodeRun = await run(fast, items(N), 1);
	const nodeWall = performance.now() - n0;
	const nodeLatencies = nodeRun.outputs['AI Call'][0].map(
		(it) => (it.json.ai as { latencyMs: number }).latencyMs,
	);
	await fast.close();
	const overhead = {
		calls: N,
		fetchMedianMs: Math.round(median(fetchTimes) * 1000) / 1000,
		nodeMedianLatencyMs: median(nodeLatencies),
		fetchWallPerCallMs: Math.round((fetchWall / N) * 1000) / 1000,
		nodeWallPerCallMs: Math.round((nodeWall / N) * 1000) / 1000,
		addedPerCallMs: Math.round(((nodeWall - fetchWall) / N) * 1000) / 1000,
	};
	results.overhead = overhead;
	lines.push('', `per-call overhead, ${N} sequential calls at 0 ms latency`);
	lines.push(
		`plain fetch loop: median ${overhead.fetchMedianMs} ms, ${overhead.fetchWallPerCallMs} ms per call (wall)`,
	);
	lines.push(
		`AI Call node:     median ai.latencyMs ${overhead.nodeMedianLatencyMs} ms, ${overhead.nodeWallPerCallMs} ms per call (wall, whole node)`,
	);
	lines.push(`added by the node: ${overhead.addedPerCallMs} ms per call (target ≤ 0.5)`);

	// 3. memory for 10,000 items
	const mem = await startRemoteSimulator();
	let peak = process.memoryUsage().rss;
	const before = peak;
	const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
	const t0 = performance.now();
	const big = await run(mem, items(10_000), 50);
	clearInterval(sampler);
	await mem.close();
	results.memory = {
		items: 10_000,
		wallMs: Math.round(performance.now() - t0),
		rssBeforeMb: Math.round(before / 1e6),
		rssPeakMb: Math.round(peak / 1e6),
		ok: big.outputs['AI Call'][0].length,
	};
	lines.push(
		'',
		`10,000 items at parallelism 50: RSS ${Math.round(before / 1e6)} MB before, peak ${Math.round(peak / 1e6)} MB, ${(results.memory as { wallMs: number }).wallMs} ms`,
	);

	process.stdout.write(`\n${lines.join('\n')}\n`);
	const dir = join(__dirname, '../../bench/results');
	mkdirSync(dir, { recursive: true });
	writeFileSync(join(dir, 'ai-call.json'), JSON.stringify(results, null, 2));
	process.stdout.write(`\nwritten: bench/results/ai-call.json\n`);
}

main().catch((error: Error) => {
	process.stderr.write(`${error.stack ?? error.message}\n`);
	process.exit(1);
});
