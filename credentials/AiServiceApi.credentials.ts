import type {
	ICredentialDataDecryptedObject,
	ICredentialTestRequest,
	ICredentialType,
	IHttpRequestOptions,
	INodeProperties,
} from 'n8n-workflow';

import {
	authHeaders,
	DEFAULT_ANTHROPIC_VERSION,
	DEFAULT_BASE_URL,
	type AiServiceCredentials,
} from '../lib/provider';

export class AiServiceApi implements ICredentialType {
	name = 'aiServiceApi';

	displayName = 'AI Service API';

	icon = { light: 'file:aiService.svg', dark: 'file:aiService.dark.svg' } as const;

	documentationUrl = 'https://github.com/n8n-nodes-ai-patterns/n8n-nodes-ai-patterns#credentials';

	properties: INodeProperties[] = [
		{
			displayName: 'Provider',
			name: 'provider',
			type: 'options',
			options: [
				{
					name: 'OpenAI-Compatible',
					value: 'openai',
					description:
						'OpenAI, Azure OpenAI, Ollama, vLLM, OpenRouter, LM Studio and any other /chat/completions API',
				},
				{
					name: 'Anthropic',
					value: 'anthropic',
					description: 'The Anthropic Messages API',
				},
			],
			default: 'openai',
		},
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: DEFAULT_BASE_URL.openai,
			placeholder: 'http://localhost:11434/v1',
			description:
				'Root of the API including its version path. Ollama: http://localhost:11434/v1, Azure OpenAI: https://RESOURCE.openai.azure.com/openai/v1, OpenRouter: https://openrouter.ai/api/v1.',
			displayOptions: { show: { provider: ['openai'] } },
		},
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: DEFAULT_BASE_URL.anthropic,
			description: 'Root of the API including its version path',
			displayOptions: { show: { provider: ['anthropic'] } },
		},
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			required: true,
			default: '',
			description: 'Local servers that need no key (Ollama, LM Studio) accept any value',
		},
		{
			displayName: 'Send Key As',
			name: 'keyHeader',
			type: 'options',
			options: [
				{ name: 'Authorization: Bearer', value: 'bearer' },
				{ name: 'Api-Key Header (Azure OpenAI)', value: 'apiKey' },
			],
			default: 'bearer',
			displayOptions: { show: { provider: ['openai'] } },
		},
		{
			displayName: 'Anthropic Version',
			name: 'anthropicVersion',
			type: 'string',
			default: DEFAULT_ANTHROPIC_VERSION,
			description: 'Value of the anthropic-version header',
			displayOptions: { show: { provider: ['anthropic'] } },
		},
		{
			displayName: 'Ignore SSL Issues (Insecure)',
			name: 'ignoreSslIssues',
			type: 'boolean',
			default: false,
			description:
				'Whether to connect even if the certificate cannot be verified (a self-signed gateway). Prefer NODE_EXTRA_CA_CERTS with your CA.',
		},
		{
			displayName: 'Extra Headers',
			name: 'extraHeaders',
			type: 'json',
			default: '{}',
			description:
				'Headers sent with every request, as a JSON object, e.g. {"HTTP-Referer": "https://example.com", "X-Title": "my-app"} for OpenRouter',
		},
	];

	// A function rather than generic expressions: the header that carries the key depends on the provider.
	authenticate = async (
		credentials: ICredentialDataDecryptedObject,
		requestOptions: IHttpRequestOptions,
	): Promise<IHttpRequestOptions> => ({
		...requestOptions,
		headers: {
			...requestOptions.headers,
			...authHeaders(credentials as unknown as AiServiceCredentials),
		},
	});

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{ $credentials.baseUrl.replace(/\\/+$/, "") }}',
			url: '/models',
			method: 'GET',
		},
		rules: [
			{
				type: 'responseCode',
				properties: {
					value: 401,
					message:
						'The service rejected the API key (401 Unauthorized). Check the key and the provider.',
				},
			},
			{
				type: 'responseCode',
				properties: {
					value: 403,
					message:
						'The API key is valid but not allowed to list models (403 Forbidden). Check its permissions.',
				},
			},
			{
				type: 'responseCode',
				properties: {
					value: 404,
					message:
						'No models endpoint at this Base URL (404). The Base URL must include the version path, e.g. https://api.openai.com/v1.',
				},
			},
		],
	};
}
