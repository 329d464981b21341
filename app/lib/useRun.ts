'use client';
/**
 * Watches one run live: `run:watch` after every hello (so a reconnect catches up from the last
 * seq held), live messages applied in seq order, a re-watch on a gap. React re-renders at
 * most once per animation frame however fast points arrive.
 */
import { useEffect, useRef, useState } from 'react';
import type { ServerToClientEvents } from '../../server/protocol';
import { useHub } from './HubProvider';
import { applyAnnotation, applyMessage, applySnapshot, emptyRunState, type RunState, type StreamMessage } from './runState';

export interface WatchedRun {
  state: RunState;
  /** Changes whenever `state` changed. */
  version: number;
  error: string | null;
  /** True once the first snapshot arrived. */
  loaded: boolean;
}

const STREAM_EVENTS = ['metrics:batch', 'metrics:epoch', 'run:predictions', 'run:misclassified', 'run:progress'] as const;

export function useRun(runId: string | null): WatchedRun {
  const { socket, session, call } = useHub();
  const stateRef = useRef<RunState>(emptyRunState());
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const frame = useRef<number | null>(null);

  useEffect(() => {
    stateRef.current = emptyRunState();
    setLoaded(false);
    setVersion((v) => v + 1);
  }, [runId]);

  useEffect(() => {
    if (!socket || !runId || session === 0) return;
    const state = stateRef.current;
    let watching = false;
    let cancelled = false;
    // Frames that arrive with the snapshot's ack (one read of the socket can hold both) are
    // kept and applied after it, not dropped (which would look like a gap and cost a re-watch).
    let early: StreamMessage[] = [];
    const bump = () => {
      if (frame.current !== null) return;
      frame.current = requestAnimationFrame(() => {
        frame.current = null;
        setVersion(state.version);
      });
    };
    const watch = async () => {
      if (watching || cancelled) return;
      watching = true;
      const afterSeq = state.lastSeq;
      const result = await call('run:watch', { runId, afterSeq });
      watching = false;
      const held = early;
      early = [];
      if (cancelled) return;
      if (!result.ok) return setError(result.message);
      setError(null);
      applySnapshot(state, result.data, afterSeq);
      if (held.some((m) => applyMessage(state, m) === 'gap')) void watch();
      setLoaded(true);
      bump();
    };
    const onStream = (event: StreamMessage['event']) => (msg: StreamMessage['msg']) => {
      if (msg.runId !== runId) return;
      if (watching) return void early.push({ event, msg } as StreamMessage);
      if (applyMessage(state, { event, msg } as StreamMessage) === 'gap') void watch();
      else bump();
    };
    const handlers = STREAM_EVENTS.map((e) => [e, onStream(e)] as const);
    const onStatus: ServerToClientEvents['run:status'] = (msg) => {
      if (msg.runId !== runId) return;
      state.run = msg.run;
      state.version++;
      bump();
    };
    const onAdded: ServerToClientEvents['annotation:added'] = ({ annotation }) => annotation.runId === runId && (applyAnnotation(state, { added: annotation }), bump());
    const onEdited: ServerToClientEvents['annotation:edited'] = ({ annotation }) => annotation.runId === runId && (applyAnnotation(state, { edited: annotation }), bump());
    const onDeleted: ServerToClientEvents['annotation:deleted'] = (msg) => msg.runId === runId && (applyAnnotation(state, { deleted: msg.id }), bump());
    const onPresence: ServerToClientEvents['presence'] = (msg) => {
      if (msg.runId !== runId) return;
      state.presence = msg.users;
      state.version++;
      bump();
    };
    const onRuns: ServerToClientEvents['runs:changed'] = ({ run }) => {
      if (run.id !== runId) return;
      state.run = run;
      state.version++;
      bump();
    };
    const all = [
      ...handlers,
      ['run:status', onStatus],
      ['annotation:added', onAdded],
      ['annotation:edited', onEdited],
      ['annotation:deleted', onDeleted],
      ['presence', onPresence],
      ['runs:changed', onRuns],
    ] as const;
    for (const [e, h] of all) socket.on(e, h as never);
    void watch();
    return () => {
      cancelled = true;
      for (const [e, h] of all) socket.off(e, h as never);
      if (frame.current !== null) cancelAnimationFrame(frame.current);
      frame.current = null;
      if (socket.connected) void call('run:unwatch', { runId });
    };
  }, [socket, session, runId, call]);

  return { state: stateRef.current, version, error, loaded };
}
