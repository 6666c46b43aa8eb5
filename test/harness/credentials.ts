import { Credentials, getAdditionalKeys, UnrecognizedCredentialTypeError } from 'n8n-core';
import {
	ICredentialsHelper,
	NodeHelpers,
	UnexpectedError,
	UserError,
	Workflow,
	isExpression,
} from 'n8n-workflow';
import type {
	ICredentialDataDecryptedObject,
	ICredentialType,
	ICredentialsExpressionResolveValues,
	IExecuteData,
	IHttpRequestHelper,
	IHttpRequestOptions,
	INode,
	INodeCredentialsDetails,
	INodeParameters,
	INodeProperties,
	INodeTypes,
	IRequestOptionsSimplified,
	IWorkflowExecuteAdditionalData,
	WorkflowExecuteMode,
} from 'n8n-workflow';

export class CredentialTypeRegistry {
	private readonly types = new Map<string, ICredentialType>();

	constructor(
		types: ICredentialType[],
		private readonly packageName: string,
	) {
		for (const type of types) this.types.set(type.name, type);
	}

	getByName(name: string): ICredentialType {
		const type = this.types.get(name);
		if (!type) throw new UnrecognizedCredentialTypeError(name);
		return type;
	}

	getParentTypes(name: string): string[] {
		const parents = this.types.get(name)?.extends ?? [];
		return parents.flatMap((parent) => [parent, ...this.getParentTypes(parent)]);
	}

	/** Own properties merged over the parents', as n8n's CLI CredentialsHelper does. */
	getProperties(name: string): INodeProperties[] {
		const type = this.getByName(name);
		if (!type.extends) return type.properties;
		const merged: INodeProperties[] = [];
		for (const parent of type.extends)
			NodeHelpers.mergeNodeProperties(merged, this.getProperties(parent));
		NodeHelpers.mergeNodeProperties(merged, type.properties);
		return merged;
	}

	supportedNodes(name: string): string[] {
		return (this.getByName(name).supportedNodes ?? []).map((n) =>
			n.includes('.') ? n : `${this.packageName}.${n}`,
		);
	}
}

const mockNode: INode = {
	id: 'harness-credential-node',
	name: '',
	type: 'mock',
	typeVersion: 1,
	position: [0, 0],
	parameters: {},
};

/**
 * In-memory counterpart of packages/cli/src/credentials-helper.ts: same defaults/expression
 * resolution, `authenticate` and `preAuthentication` semantics; the DB is a per-run map keyed by credential id.
 */
export class HarnessCredentialsHelper extends ICredentialsHelper {
	constructor(
		private readonly registry: CredentialTypeRegistry,
		private readonly nodeTypes: INodeTypes,
		private readonly store: Record<string, ICredentialDataDecryptedObject>,
	) {
		super();
	}

	getParentTypes(name: string): string[] {
		return this.registry.getParentTypes(name);
	}

	getCredentialsProperties(type: string): INodeProperties[] {
		return this.registry.getProperties(type);
	}

	isCredentialUsableByNode(credentialType: string, nodeType: string): boolean {
		try {
			if (!this.registry.getByName(credentialType).restrictToSupportedNodes) return true;
		} catch {
			return true;
		}
		return this.registry.supportedNodes(credentialType).includes(nodeType);
	}

	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		requestOptions: IHttpRequestOptions | IRequestOptionsSimplified,
		workflow?: Workflow,
		node?: INode,
	): Promise<IHttpRequestOptions> {
		const { authenticate } = this.registry.getByName(typeName);
		if (typeof authenticate === 'function') {
			return await authenticate(credentials, requestOptions as IHttpRequestOptions);
		}
		if (authenticate?.type === 'generic') {
			if (!workflow || !node) {
				throw new UnexpectedError(
					'Workflow and node are required for declarative credential authentication',
				);
			}
			const resolve = (value: string) => {
				if (!isExpression(value)) return value;
				const resolved = workflow.expression.getSimpleParameterValue(
					node,
					value,
					'internal',
					{ $credentials: credentials },
					undefined,
					'',
				);
				return resolved ? resolved.toString() : '';
			};
			const target = requestOptions as unknown as Record<string, Record<string, unknown>>;
			for (const [outerKey, outerValue] of Object.entries(authenticate.properties)) {
				for (const [key, value] of Object.entries(outerValue as Record<string, string>)) {
					target[outerKey] ??= {};
					target[outerKey][resolve(key)] = resolve(value);
				}
			}
		}
		return requestOptions as IHttpRequestOptions;
	}

	async preAuthentication(
		helpers: IHttpRequestHelper,
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		node: INode,
		credentialsExpired: boolean,
	): Promise<ICredentialDataDecryptedObject | undefined> {
		const type = this.registry.getByName(typeName);
		const expirable = this.registry
			.getProperties(typeName)
			.find((p) => p.type === 'hidden' && p.typeOptions?.expirable === true);
		if (!expirable || typeof type.preAuthentication !== 'function') return undefined;
		if (credentials[expirable.name] !== '' && !credentialsExpired) return undefined;

		const output = (await type.preAuthentication.call(
			helpers,
			credentials,
		)) as ICredentialDataDecryptedObject;
		if (output[expirable.name] === undefined) return undefined;

		const nodeCredentials = node.credentials?.[type.name];
		if (!nodeCredentials) return undefined;
		// Persist the fresh token like n8n does, except over fields stored as expressions.
		const stored = this.stored(nodeCredentials, type.name);
		const toPersist: ICredentialDataDecryptedObject = { ...stored };
		for (const [key, value] of Object.entries(output)) {
			if (key === expirable.name || !isExpression(stored[key])) toPersist[key] = value;
		}
		await this.updateCredentials(nodeCredentials, type.name, toPersist);
		return Object.assign(credentials, output);
	}

	async runPreAuthentication(
		helpers: IHttpRequestHelper,
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
	): Promise<ICredentialDataDecryptedObject | undefined> {
		const { preAuthentication } = this.registry.getByName(typeName);
		if (typeof preAuthentication !== 'function') return undefined;
		return (
			((await preAuthentication.call(helpers, credentials)) as ICredentialDataDecryptedObject) ??
			undefined
		);
	}

	async getCredentials(
		nodeCredentials: INodeCredentialsDetails,
		type: string,
	): Promise<Credentials> {
		const credentials = new Credentials(
			{ id: nodeCredentials.id, name: nodeCredentials.name },
			type,
		);
		await credentials.setData(this.stored(nodeCredentials, type));
		return credentials;
	}

	async getDecrypted(
		additionalData: IWorkflowExecuteAdditionalData,
		nodeCredentials: INodeCredentialsDetails,
		type: string,
		mode: WorkflowExecuteMode,
		executeData?: IExecuteData,
		raw?: boolean,
		expressionResolveValues?: ICredentialsExpressionResolveValues,
	): Promise<ICredentialDataDecryptedObject> {
		const original = structuredClone(this.stored(nodeCredentials, type));
		if (raw === true) return original;

		let data = NodeHelpers.getNodeParameters(
			this.registry.getProperties(type),
			original as INodeParameters,
			true,
			false,
			null,
			null,
		) as ICredentialDataDecryptedObject;
		if (original.oauthTokenData !== undefined) data.oauthTokenData = original.oauthTokenData;

		const additionalKeys = getAdditionalKeys(additionalData, mode, null, { isCredential: true });
		if (expressionResolveValues) {
			const { workflow, runExecutionData, runIndex, itemIndex, node, connectionInputData } =
				expressionResolveValues;
			try {
				data = workflow.expression.getParameterValue(
					data as INodeParameters,
					runExecutionData,
					runIndex,
					itemIndex,
					node.name,
					connectionInputData,
					mode,
					additionalKeys,
					executeData,
					false,
					data,
				) as ICredentialDataDecryptedObject;
			} catch (error) {
				if (error instanceof Error) error.message += ' [Error resolving credentials]';
				throw error;
			}
		} else {
			const workflow = new Workflow({
				nodes: [],
				connections: {},
				active: false,
				nodeTypes: this.nodeTypes,
			});
			data = (await workflow.expression.withIsolate(async () =>
				workflow.expression.getComplexParameterValue(
					mockNode,
					data as INodeParameters,
					mode,
					additionalKeys,
					undefined,
					undefined,
					data,
				),
			)) as ICredentialDataDecryptedObject;
		}
		return data;
	}

	async updateCredentials(
		nodeCredentials: INodeCredentialsDetails,
		type: string,
		data: ICredentialDataDecryptedObject,
	): Promise<void> {
		this.store[this.idOf(nodeCredentials, type)] = structuredClone(data);
	}

	async updateCredentialsOauthTokenData(
		nodeCredentials: INodeCredentialsDetails,
		type: string,
		data: ICredentialDataDecryptedObject,
	): Promise<void> {
		const stored = this.stored(nodeCredentials, type);
		this.store[this.idOf(nodeCredentials, type)] = {
			...stored,
			oauthTokenData: data.oauthTokenData,
		};
	}

	private idOf({ id }: INodeCredentialsDetails, type: string): string {
		if (!id)
			throw new UnexpectedError('Found credential with no ID.', { tags: { credentialType: type } });
		return id;
	}

	private stored(
		nodeCredentials: INodeCredentialsDetails,
		type: string,
	): ICredentialDataDecryptedObject {
		const id = this.idOf(nodeCredentials, type);
		const data = this.store[id];
		if (!data) throw new UserError(`Credential with ID "${id}" does not exist for type "${type}".`);
		return data;
	}
}
