#!/usr/bin/env node
/**
 * npm run ai-sim -- --port 8787 [--api-key K …|--any-key] [--seed N] [--fault SPEC] [fault flags]
 *
 * Fault flags are the parts of a fault spec (see faults.ts), e.g.
 *   npm run ai-sim -- --error-rate 0.2 --status 429,503 --latency 100-800
 *   npm run ai-sim -- --fail-first 3 --status 500
 *   npm run ai-sim -- --hang
 */
import { parseArgs } from 'node:util';

import { FAULT_KINDS } from './faults';
import { startSimulator } from './server';
import { selfSignedCertificate } from './tls';

const VALUE_PARTS = [
	'latency',
	'status',
	'retry-after',
	'rate',
	'error-rate',
	'fail-first',
	'key',
	'trickle',
	'hostile',
] as const;
const FLAG_PARTS = FAULT_KINDS.filter((k) => !(VALUE_PARTS as readonly string[]).includes(k));

const USAGE = `Usage: ai-sim [--port 8787] [--host 127.0.0.1] [--api-key KEY ...] [--any-key] [--seed N] [--tls]
              [--fault "status=503;rate=0.5"] [--${VALUE_PARTS.join(' V] [--')} V]
              [--${FLAG_PARTS.join('] [--')}]
Routes: GET /v1/models, POST /v1/chat/completions (OpenAI), POST /v1/messages (Anthropic)
        (both with tools and stream: true), POST /v1/responses (OpenAI, not streamed),
        GET /_sim/counters, GET /_sim/requests, POST /_sim/reset, PUT /_sim/fault {"fault": "..."}
        GET|PUT /_sim/index-status, POST|GET /_sim/inbox/NAME (stand-ins for the sample workflows)
Per request: header x-sim-fault: SPEC, header x-sim-key: NAME, or [[sim: SPEC]] in the prompt.
`;

async function main(): Promise<void> {
	const { values: parsed } = parseArgs({
		options: {
			port: { type: 'string', default: process.env.AI_SIM_PORT ?? '8787' },
			host: { type: 'string', default: '127.0.0.1' },
			'api-key': { type: 'string', multiple: true },
			'any-key': { type: 'boolean', default: false },
			seed: { type: 'string' },
			fault: { type: 'string' },
			tls: { type: 'boolean', default: false },
			help: { type: 'boolean', short: 'h', default: false },
			...Object.fromEntries(VALUE_PARTS.map((p) => [p, { type: 'string' as const }])),
			...Object.fromEntries(FLAG_PARTS.map((p) => [p, { type: 'boolean' as const }])),
		},
		strict: true,
	});
	const values = parsed as Record<string, string | string[] | boolean | undefined>;
	if (values.help) {
		process.stdout.write(USAGE);
		return;
	}
	const parts: string[] = values.fault ? [values.fault as string] : [];
	for (const p of VALUE_PARTS)
		if (values[p] !== undefined) parts.push(`${p}=${values[p] as string}`);
	for (const p of FLAG_PARTS) if (values[p]) parts.push(p);

	const keys = values['any-key']
		? 'any'
		: ((values['api-key'] as string[] | undefined) ?? ['sim-key']);
	const tls = values.tls ? selfSignedCertificate() : undefined;
	const sim = await startSimulator({
		tls,
		port: Number(values.port),
		host: values.host as string,
		apiKeys: keys,
		seed: values.seed === undefined ? undefined : Number(values.seed),
		fault: parts.length ? parts.join(';') : undefined,
	});
	process.stdout.write(
		`AI service simulator listening on ${sim.url}\n` +
			`  base URL for the credential: ${sim.baseUrl}\n` +
			`  accepted keys: ${keys === 'any' ? 'any' : keys.length === 1 && keys[0] === 'sim-key' ? 'sim-key' : `${keys.length} configured`}\n` +
			`  default fault: ${parts.length ? parts.join(';') : 'none'}\n` +
			(tls
				? `  HTTPS with a self-signed certificate: trust it with NODE_EXTRA_CA_CERTS=${tls.certPath}\n` +
					'  (or the credential\'s "Ignore SSL Issues")\n'
				: ''),
	);
	const stop = () => {
		sim.close().then(() => process.exit(0));
	};
	process.on('SIGINT', stop);
	process.on('SIGTERM', stop);
}

main().catch((error: Error) => {
	process.stderr.write(`ai-sim: ${error.message}\n\n${USAGE}`);
	process.exit(2);
});
