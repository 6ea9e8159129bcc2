/**
 * Every route of the server as the OpenAPI document describes it: who may call it, what it takes
 * and what it answers, with the shapes from core's API schemas (`wire/api`), the same ones the
 * routes validate with. Keyed like the server's route table (`POST /v1/sessions/:id/turns`); a
 * route the server registers without an entry here is a test failure.
 */
import { ADMIN_ROUTES } from './routes-admin';
import { ROLLOUT_ROUTES } from './routes-rollouts';
import { TRAFFIC_ROUTES } from './routes-traffic';
import type { RouteDoc } from './route-doc';

export type { Answer, Body, RouteAuth, RouteDoc } from './route-doc';

export const ROUTE_DOCS: Record<string, RouteDoc> = { ...TRAFFIC_ROUTES, ...ADMIN_ROUTES, ...ROLLOUT_ROUTES };
