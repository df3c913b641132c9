/** Lambda entrypoint for the agent routes (src/api/agent-routes.ts); thin: wiring only. */
import { createAgentHandler } from '../../src/api/agent-handlers.ts';
import { awsApiContext } from './aws-context.ts';

export const handler = createAgentHandler(() => awsApiContext());
