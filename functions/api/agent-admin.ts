/** Lambda entrypoint for the agent administration routes (keys, status, work, run cancellation); thin: wiring only. */
import { createAgentHandler } from '../../src/api/agent-handlers.ts';
import { awsApiContext } from './aws-context.ts';

export const handler = createAgentHandler(() => awsApiContext());
