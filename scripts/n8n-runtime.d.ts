// Types for scripts/n8n-runtime.js, so the end-to-end tests (TypeScript) use it checked.
export const N8N_VERSION: string;
export const NODE_VERSION: string;
export const PACKAGE_NAME: string;
export const REPO_ROOT: string;
export function cacheDir(): string;
export function ensureN8n(): Promise<{ dir: string; node: string; n8n: string }>;
export function installPackage(
	userFolder: string,
	options?: { mode?: 'pack' | 'link' },
): Promise<string>;
export function freePort(): Promise<number>;
/** The process and all its descendants, pid first. */
export function processTree(pid: number): number[];
/** True once the process has exited (a zombie counts as exited). */
export function processGone(pid: number): boolean;
export interface RunningN8n {
	url: string;
	port: number;
	pid: number;
	logFile: string;
	stop(): Promise<void>;
	/** SIGKILL to n8n and all its children (task runners) at once; resolves when all have exited. */
	kill9(): Promise<void>;
	/** Stops it if running, then starts it again with the same options (user folder, port, env). */
	restart(): Promise<RunningN8n>;
	/** n8n's pid and its descendants' (empty once it has exited). */
	pids(): number[];
	logTail(lines?: number): string;
}
export function startN8n(options: {
	userFolder: string;
	port?: number;
	env?: Record<string, string>;
	/** 'worker': `n8n worker`, with `port` as its health check port. */
	command?: 'start' | 'worker';
	concurrency?: number;
	readyTimeoutMs?: number;
}): Promise<RunningN8n>;
export class N8nApi {
	constructor(url: string);
	url: string;
	cookie: string;
	apiKey: string;
	rest<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
	public<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
	setupOwner(options?: {
		email?: string;
		password?: string;
	}): Promise<{ email: string; password: string }>;
	createCredential(
		name: string,
		type: string,
		data: Record<string, unknown>,
	): Promise<{ id: string }>;
	ensureCredential(
		name: string,
		type: string,
		data: Record<string, unknown>,
	): Promise<{ id: string }>;
	testCredential(
		type: string,
		data: Record<string, unknown>,
	): Promise<{ status: 'OK' | 'Error'; message: string }>;
	nodeTypes(): Promise<Array<{ name: string; [key: string]: unknown }>>;
	credentialTypes(): Promise<Array<{ name: string; [key: string]: unknown }>>;
	/** Creates the workflow; with `activate` (default) activates it and waits until n8n serves its webhooks. */
	importWorkflow(
		workflow: Record<string, unknown>,
		options?: { activate?: boolean },
	): Promise<{ id: string }>;
}
export const SAMPLE_SIM_URL: string;
export interface ImportedSample {
	file: string;
	name: string;
	id?: string;
	active: boolean;
	error?: string;
}
export function importSamples(
	api: N8nApi,
	options?: {
		credentials?: Record<string, { id: string; name: string }>;
		simUrl?: string;
		model?: string;
		store?: 'redis' | 'postgres';
		only?: string[];
		activate?: (file: string) => boolean;
		/** Changes the parsed workflow last, before the import (e.g. a shorter lease or schedule). */
		patch?: (workflow: SampleWorkflow, file: string) => void;
	},
): Promise<ImportedSample[]>;
export interface SampleWorkflow {
	name: string;
	nodes: Array<{
		name: string;
		type: string;
		parameters: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- node parameters of any shape
		credentials?: Record<string, { id: string; name: string }>;
		[key: string]: unknown;
	}>;
	connections: Record<string, unknown>;
	[key: string]: unknown;
}
/** Resolves once n8n serves every Webhook node of an activated workflow. */
export function webhooksServed(
	url: string,
	workflow: { nodes: Array<Record<string, unknown>> },
	timeoutMs?: number,
): Promise<void>;
