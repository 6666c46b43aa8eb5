import {
	ExecutionLifecycleHooks,
	ExternalSecretsProxy,
	UnrecognizedNodeTypeError,
	WorkflowExecute,
} from 'n8n-core';
import {
	NodeHelpers,
	UnexpectedError,
	Workflow,
	createRunExecutionData,
	deepCopy,
} from 'n8n-workflow';
import type {
	ExecutionError,
	ICredentialDataDecryptedObject,
	ICredentialType,
	IConnections,
	IDataObject,
	INode,
	INodeExecutionData,
	INodeType,
	INodeTypes,
	IRun,
	ITaskData,
	IVersionedNodeType,
	IWorkflowBase,
	IWorkflowExecuteAdditionalData,
	IWorkflowSettings,
	WorkflowExecuteMode,
} from 'n8n-workflow';

import { CredentialTypeRegistry, HarnessCredentialsHelper } from './credentials';
import { ensureRuntime } from './runtime';

export { logLines, type LogLine } from './runtime';
import { harnessNodeTypes, injectedStartItems } from './test-nodes';

export interface HarnessRunOptions {
	/** Execution mode passed to the engine; default 'manual'. */
	mode?: Extract<WorkflowExecuteMode, 'manual' | 'trigger' | 'webhook'>;
	/** Decrypted credential data keyed by the id used in `node.credentials[type].id`. */
	credentials?: Record<string, ICredentialDataDecryptedObject>;
	/** Workflow static data in; the run's updated static data comes back in the result. */
	staticData?: IDataObject;
	/** Items the start node receives (webhook/trigger modes) or, for harness.start, emits. */
	startItems?: INodeExecutionData[];
	/** Name of the start node; default is n8n's own choice (first trigger node). */
	startNode?: string;
}

export interface HarnessRunResult {
	/** Node name -> items per output index, from the node's last run. */
	outputs: Record<string, INodeExecutionData[][]>;
	runs: Record<string, ITaskData[]>;
	/** The execution's error (as n8n stores it: a plain copy of the thrown error), or a pre-run error. */
	error?: ExecutionError | Error;
	/** Node that was executing when the run failed. */
	errorNode?: string;
	/** Error of each node's last run, also when the node continued on fail. */
	nodeErrors: Record<string, ExecutionError>;
	staticData: IDataObject;
	/** The run's credential store afterwards, e.g. with tokens fetched by `preAuthentication`. */
	credentials: Record<string, ICredentialDataDecryptedObject>;
	status?: IRun['status'];
}

export interface HarnessWorkflow {
	id?: string;
	name?: string;
	nodes: INode[];
	connections: IConnections;
	settings?: IWorkflowSettings;
}

type Constructor<T> = new () => T;
type NodeTypeInput = INodeType | IVersionedNodeType | Constructor<INodeType | IVersionedNodeType>;
type CredentialTypeInput = ICredentialType | Constructor<ICredentialType>;

export interface HarnessOptions {
	nodeTypes: NodeTypeInput[];
	credentialTypes?: CredentialTypeInput[];
	/** Prefix of the package's node types in workflow JSON; default 'n8n-nodes-ai-patterns'. */
	packageName?: string;
}

export interface Harness {
	run(workflow: HarnessWorkflow, options?: HarnessRunOptions): Promise<HarnessRunResult>;
}

export const HARNESS_PREFIX = 'harness';

const instantiate = <T>(input: T | Constructor<T>): T =>
	typeof input === 'function' ? new (input as Constructor<T>)() : input;

class HarnessNodeTypes implements INodeTypes {
	constructor(private readonly types: Map<string, INodeType | IVersionedNodeType>) {}

	getByName(type: string): INodeType | IVersionedNodeType {
		const found = this.types.get(type);
		if (!found) {
			const dot = type.lastIndexOf('.');
			throw new UnrecognizedNodeTypeError(type.slice(0, dot), type.slice(dot + 1));
		}
		return found;
	}

	getByNameAndVersion(type: string, version?: number): INodeType {
		return NodeHelpers.getVersionedNodeType(this.getByName(type), version);
	}

	getKnownTypes(): IDataObject {
		return Object.fromEntries(
			[...this.types.keys()].map((name) => [name, { className: name, sourcePath: '' }]),
		);
	}
}

let executionCounter = 0;

export function createHarness({
	nodeTypes,
	credentialTypes = [],
	packageName = 'n8n-nodes-ai-patterns',
}: HarnessOptions): Harness {
	const credentialTypeList = credentialTypes.map(instantiate);
	const credentialRegistry = new CredentialTypeRegistry(credentialTypeList, packageName);
	const types = new Map<string, INodeType | IVersionedNodeType>();
	const register = (prefix: string, type: INodeType | IVersionedNodeType) => {
		const name = `${prefix}.${type.description.name}`;
		if (types.has(name)) throw new UnexpectedError(`Node type "${name}" registered twice`);
		types.set(name, type);
	};
	for (const type of nodeTypes) register(packageName, instantiate(type));
	for (const type of harnessNodeTypes(credentialTypeList.map((c) => c.name)))
		register(HARNESS_PREFIX, type);
	const registry = new HarnessNodeTypes(types);

	async function run(
		wf: HarnessWorkflow,
		options: HarnessRunOptions = {},
	): Promise<HarnessRunResult> {
		ensureRuntime();
		const mode = options.mode ?? 'manual';
		const executionId = String(++executionCounter);
		const workflowId = wf.id ?? 'harness-workflow';
		// Workflows created in the n8n editor always carry executionOrder 'v1'; JSON without settings would otherwise run v0.
		const settings: IWorkflowSettings = { executionOrder: 'v1', ...wf.settings };
		const nodes = deepCopy(wf.nodes);
		const workflow = new Workflow({
			id: workflowId,
			name: wf.name ?? 'Harness workflow',
			nodes,
			connections: wf.connections,
			nodeTypes: registry,
			active: false,
			settings,
			staticData: deepCopy(options.staticData ?? {}),
		});

		const startNode = options.startNode
			? workflow.getNode(options.startNode)
			: workflow.getStartNode();
		if (!startNode)
			throw new UnexpectedError(`Start node not found: ${options.startNode ?? '(none detected)'}`);

		const workflowData: IWorkflowBase = {
			id: workflowId,
			name: workflow.name ?? '',
			active: false,
			isArchived: false,
			activeVersionId: null,
			createdAt: new Date(),
			updatedAt: new Date(),
			nodes,
			connections: wf.connections,
			settings,
		};
		const credentials = structuredClone(options.credentials ?? {});
		const additionalData = {
			credentialsHelper: new HarnessCredentialsHelper(credentialRegistry, registry, credentials),
			hooks: new ExecutionLifecycleHooks(mode, executionId, workflowData),
			externalSecretsProxy: new ExternalSecretsProxy(),
			executionId,
			workflowId,
			currentNodeExecutionIndex: 0,
			variables: {},
			restApiUrl: 'http://localhost:5678/rest',
			instanceBaseUrl: 'http://localhost:5678/',
			formBaseUrl: 'http://localhost:5678/form',
			formWaitingBaseUrl: 'http://localhost:5678/form-waiting',
			formTestBaseUrl: 'http://localhost:5678/form-test',
			webhookBaseUrl: 'http://localhost:5678/webhook',
			webhookWaitingBaseUrl: 'http://localhost:5678/webhook-waiting',
			webhookTestBaseUrl: 'http://localhost:5678/webhook-test',
			mcpBaseUrl: 'http://localhost:5678/mcp',
			mcpTestBaseUrl: 'http://localhost:5678/mcp-test',
			executeWorkflow: async () => {
				throw new UnexpectedError('Sub-workflow execution is not supported by the test harness');
			},
			startRunnerTask: async () => {
				throw new UnexpectedError('Task runners are not supported by the test harness');
			},
			getRunExecutionData: async () => undefined,
			getRuntimeCredential: async () => undefined,
			logAiEvent: () => {},
		} as IWorkflowExecuteAdditionalData;

		const runExecutionData = createRunExecutionData({
			executionData: {
				nodeExecutionStack: [
					{ node: startNode, data: { main: [options.startItems ?? [{ json: {} }]] }, source: null },
				],
			},
		});

		if (options.startItems) injectedStartItems.set(executionId, options.startItems);
		let run: IRun;
		try {
			run = await new WorkflowExecute(
				additionalData,
				mode,
				runExecutionData,
			).processRunExecutionData(workflow);
		} catch (error) {
			// e.g. WorkflowHasIssuesError, thrown before the engine starts
			const staticData = cleanStaticData(workflow);
			return {
				outputs: {},
				runs: {},
				nodeErrors: {},
				error: error as Error,
				staticData,
				credentials,
			};
		} finally {
			injectedStartItems.delete(executionId);
		}

		const { runData, error, lastNodeExecuted } = run.data.resultData;
		const outputs: HarnessRunResult['outputs'] = {};
		const nodeErrors: HarnessRunResult['nodeErrors'] = {};
		for (const [name, tasks] of Object.entries(runData)) {
			const last = tasks.at(-1);
			outputs[name] = (last?.data?.main ?? []).map((items) => items ?? []);
			if (last?.error) nodeErrors[name] = last.error;
		}
		return {
			outputs,
			runs: runData,
			error,
			errorNode: error ? lastNodeExecuted : undefined,
			nodeErrors,
			staticData: cleanStaticData(workflow),
			credentials,
			status: run.status,
		};
	}

	return { run };
}

function cleanStaticData(workflow: Workflow): IDataObject {
	const data = deepCopy(workflow.staticData);
	delete data.__dataChanged;
	return data;
}
