'use strict';
/**
 * The limit for bench/n8n.js: a keep-alive undici pool outside n8n sending the AI Call's request
 * body, N at once. Reads lines "run <count>" on stdin and answers each with one JSON line
 * { wallMs, cpuMs } (this process's CPU). Argument: JSON { url, key, inFlight }.
 * NODE_EXTRA_CA_CERTS makes it trust the bench's self-signed certificate, as it does n8n.
 */
const { createInterface } = require('node:readline');
const { Agent, request } = require('undici');

const { url, key, inFlight } = JSON.parse(process.argv[2]);
const agent = new Agent({ connections: inFlight, keepAliveTimeout: 60_000 });

async function call(n) {
	const res = await request(url, {
		method: 'POST',
		dispatcher: agent,
		headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
		body: JSON.stringify({
			model: 'sim-standard',
			messages: [{ role: 'user', content: `Question ${n}: where is my order?` }],
			temperature: 0.2,
			max_tokens: 1024,
		}),
	});
	const body = await res.body.json();
	if (res.statusCode !== 200) throw new Error(`pool client: ${res.statusCode}`);
	return body;
}

async function run(count) {
	const cpu0 = process.cpuUsage();
	const t0 = performance.now();
	let next = 0;
	const worker = async () => {
		while (next < count) await call(next++);
	};
	await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
	const cpu = process.cpuUsage(cpu0);
	return { wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

createInterface({ input: process.stdin }).on('line', (line) => {
	const [command, count] = line.trim().split(' ');
	if (command !== 'run') return;
	run(Number(count)).then(
		(result) => process.stdout.write(`${JSON.stringify(result)}\n`),
		(error) => {
			process.stderr.write(`${error.stack ?? error}\n`);
			process.exit(1);
		},
	);
});
