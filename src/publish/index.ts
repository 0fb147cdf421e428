/**
 * Publishing to WordPress, the pipeline's second target: `runPublish` sends a site's ready articles as posts over
 * the REST API (application-password Basic auth over HTTPS), idempotently (the state store keeps article → post and
 * the hash of what was sent; a lost record is found again by slug plus a marker custom field).
 */
export { AUTH_HINT, createWordpressClient, type WordpressClient, type WordpressClientOptions } from "./client.ts";
export { type PostContext, type RenderedPost, renderPost } from "./content.ts";
export { describePlan, type PlanAction, type PlanInput, type PublishPlan, planPublish } from "./plan.ts";
export { MARKER_FIELD, type PublishEvent, type PublishReport, type RunPublishOptions, runPublish } from "./run.ts";
