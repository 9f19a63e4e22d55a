import { createHandler } from './app.js';

export const handler = createHandler(process.env);
