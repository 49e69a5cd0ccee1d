/** 20 ms of 8 kHz μ-law: the unit a leg plays (call/leg.ts LEG_FRAME_BYTES) and the playback counts in. */
export const FRAME = 160;
export const SAMPLES_PER_MS = 8;
