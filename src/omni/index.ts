/** The Omni layer: everything the bridge needs to talk to an Omni engine. Never imports Twilio code. */
export * from './client-frames.js';
export * from './events.js';
export * from './framing.js';
export * from './url.js';
export * from './close-policy.js';
export * from './client.js';
