import { AiServiceApi } from './AiServiceApi.credentials';

/**
 * The same fields as "AI Service API", as a separate type: an n8n node holds one credential per
 * type, so fallback models on another provider or account need a second type.
 */
export class AiServiceFallbackApi extends AiServiceApi {
	name = 'aiServiceFallbackApi';

	displayName = 'AI Service API (Fallback)';

	documentationUrl =
		'https://github.com/n8n-nodes-ai-patterns/n8n-nodes-ai-patterns#fallback-models';
}
