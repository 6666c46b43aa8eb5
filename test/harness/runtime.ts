import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ErrorReporter } from 'n8n-core';
import { LoggerProxy } from 'n8n-workflow';

// n8n-core ships nested copies of @n8n/di and @n8n/backend-common (different versions than the
// top-level ones). The DI container is keyed by class identity, so services have to be registered
// in the exact copies n8n-core resolves, not in whatever `import '@n8n/di'` would give us.
const coreDir = dirname(require.resolve('n8n-core'));
// Plain `require` on purpose: under jest it must go through jest's module registry, where n8n-core lives.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fromCore = <T>(id: string): T => require(require.resolve(id, { paths: [coreDir] })) as T;

const noop = () => {};

export interface LogLine {
	level: 'error' | 'warn' | 'info' | 'debug';
	message: string;
	meta?: unknown;
}

/** What nodes logged through n8n's logger (this.logger), for tests that check what is logged. */
export const logLines: LogLine[] = [];
const record =
	(level: LogLine['level']) =>
	(message: string, meta?: unknown): void => {
		if (logLines.length < 10_000) logLines.push({ level, message, meta });
	};
const silentLogger = {
	error: record('error'),
	warn: record('warn'),
	info: record('info'),
	debug: record('debug'),
	scoped: () => silentLogger,
};

let ready = false;

/**
 * Registers the DI services n8n-core pulls from the container during an execution.
 * InstanceSettings, Cipher, OutboundHttp, TriggersAndPollers, ExecutionContextService are left to
 * the container (real implementations); only logging and error reporting are silenced.
 */
export function ensureRuntime(): void {
	if (ready) return;
	ready = true;

	// InstanceSettings writes `<N8N_USER_FOLDER>/.n8n/config` on first use; never let it fall back to $HOME.
	if (!process.env.N8N_USER_FOLDER) {
		process.env.N8N_USER_FOLDER = mkdtempSync(join(tmpdir(), 'n8n-harness-'));
	}

	const { Container } = fromCore<typeof import('@n8n/di')>('@n8n/di');
	const { Logger } = fromCore<typeof import('@n8n/backend-common')>('@n8n/backend-common');
	Container.set(Logger, silentLogger as unknown as InstanceType<typeof Logger>);
	Container.set(ErrorReporter, { error: noop, warn: noop, info: noop } as unknown as ErrorReporter);
	LoggerProxy.init(silentLogger);
}
