import { NodeApiError, NodeConnectionTypes, jsonParse } from 'n8n-workflow';
import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
	ITriggerFunctions,
	ITriggerResponse,
} from 'n8n-workflow';

/** startItems of running executions, for harness.start's manual trigger (keyed by execution id). */
export const injectedStartItems = new Map<string, INodeExecutionData[]>();

const base = (name: string, displayName: string): Omit<INodeTypeDescription, 'properties'> => ({
	displayName,
	name,
	group: ['transform'],
	version: 1,
	description: `Harness test node: ${displayName}`,
	defaults: { name: displayName },
	inputs: [NodeConnectionTypes.Main],
	outputs: [NodeConnectionTypes.Main],
});

/** Like n8n's Manual Trigger: in manual mode it emits `items`; in trigger/webhook modes n8n passes the injected start items through. */
class HarnessStart implements INodeType {
	description: INodeTypeDescription = {
		...base('start', 'Start'),
		group: ['trigger'],
		inputs: [],
		properties: [{ displayName: 'Items', name: 'items', type: 'json', default: '[{}]' }],
	};

	async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
		const param = this.getNodeParameter('items', '[{}]');
		const items =
			injectedStartItems.get(this.getExecutionId()) ??
			this.helpers.returnJsonArray(
				typeof param === 'string' ? jsonParse<IDataObject[]>(param) : (param as IDataObject[]),
			);
		return { manualTriggerFunction: async () => this.emit([items]) };
	}
}

class HarnessSet implements INodeType {
	description: INodeTypeDescription = {
		...base('set', 'Set'),
		properties: [
			{ displayName: 'Name', name: 'name', type: 'string', default: '' },
			{ displayName: 'Value', name: 'value', type: 'string', default: '' },
		],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return [
			this.getInputData().map((item, i) => {
				const name = this.getNodeParameter('name', i) as string;
				const out: INodeExecutionData = {
					json: { ...item.json, [name]: this.getNodeParameter('value', i) as IDataObject[string] },
					pairedItem: { item: i },
				};
				if (item.binary) out.binary = item.binary;
				return out;
			}),
		];
	}
}

/** GETs `url` through httpRequestWithAuthentication; HTTP errors become `{ error: { httpCode, message } }` items. */
class HarnessHttpGet implements INodeType {
	description: INodeTypeDescription;

	constructor(credentialTypes: string[]) {
		this.description = {
			...base('httpGet', 'HTTP GET'),
			credentials: credentialTypes.map((name) => ({ name, required: true })),
			properties: [
				{ displayName: 'Credential Type', name: 'credentialType', type: 'string', default: '' },
				{ displayName: 'URL', name: 'url', type: 'string', default: '' },
			],
		};
	}

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const out: INodeExecutionData[] = [];
		for (let i = 0; i < this.getInputData().length; i++) {
			const credentialType = this.getNodeParameter('credentialType', i) as string;
			const url = this.getNodeParameter('url', i) as string;
			try {
				const body = (await this.helpers.httpRequestWithAuthentication.call(this, credentialType, {
					url,
					json: true,
				})) as IDataObject;
				out.push({ json: body, pairedItem: { item: i } });
			} catch (error) {
				if (!(error instanceof NodeApiError) || !error.httpCode) throw error;
				out.push({
					json: { error: { httpCode: error.httpCode, message: error.message } },
					pairedItem: { item: i },
				});
			}
		}
		return [out];
	}
}

export function harnessNodeTypes(credentialTypes: string[]): INodeType[] {
	return [new HarnessStart(), new HarnessSet(), new HarnessHttpGet(credentialTypes)];
}
