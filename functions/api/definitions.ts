/** Lambda entrypoint for the API's definitions routes (see src/api/routes.ts); thin: wiring only. */
import { createApiHandlers } from '../../src/api/handlers.ts';
import { awsApiContext } from './aws-context.ts';

export const handler = createApiHandlers(() => awsApiContext()).definitions;
