'use client';
/**
 * Watches one run live: `run:watch` after every hello (so a reconnect catches up from the last
 * seq held), live messages applied in seq order, a re-watch on a gap. React re-renders at
 * most once per animation frame however fast points arrive.
 */
import { useEffect, useRef, useState } from 'react';
import {
  STREAM_EVENTS,
  type ServerToClientEvents,
  type StreamEvent,
  type StreamMessage as Message,
} from '../../server/protocol';
import { useHub } from './HubProvider';
import {
  applyAnnotation,
  applyMessage,
  applySnapshot,
  emptyRunView,
  type RunView,
  type StreamMessage,
} from './runState';

export interface WatchedRun {
  state: RunView;
  /** Changes whenever `state` changed. */
  version: number;
  error: string | null;
  /** True once the first snapshot arrived. */
  loaded: boolean;
}

export function useRun(runId: string | null): WatchedRun {
  const { socket, session, call } = useHub();
  const stateRef = useRef<RunView>(emptyRunView());
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const frame = useRef<number | null>(null);

  useEffect(() => {
    stateRef.current = emptyRunView();
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
    const onStream = (m: Message) => {
      if (m.msg.runId !== runId) return;
      if (watching) return void early.push(m);
      if (applyMessage(state, m) === 'gap') void watch();
      else bump();
    };
    // One listener per stream event, each tagging its messages with their event.
    const streamListeners: { [E in StreamEvent]: ServerToClientEvents[E] } = {
      'metrics:batch': (msg) => onStream({ event: 'metrics:batch', msg }),
      'metrics:epoch': (msg) => onStream({ event: 'metrics:epoch', msg }),
      'run:predictions': (msg) => onStream({ event: 'run:predictions', msg }),
      'run:misclassified': (msg) => onStream({ event: 'run:misclassified', msg }),
      'run:progress': (msg) => onStream({ event: 'run:progress', msg }),
    };
    const onStatus: ServerToClientEvents['run:status'] = (msg) => {
      if (msg.runId !== runId) return;
      state.run = msg.run;
      state.version++;
      bump();
    };
    const onAdded: ServerToClientEvents['annotation:added'] = ({ annotation }) =>
      annotation.runId === runId && (applyAnnotation(state, { added: annotation }), bump());
    const onEdited: ServerToClientEvents['annotation:edited'] = ({ annotation }) =>
      annotation.runId === runId && (applyAnnotation(state, { edited: annotation }), bump());
    const onDeleted: ServerToClientEvents['annotation:deleted'] = (msg) =>
      msg.runId === runId && (applyAnnotation(state, { deleted: msg.id }), bump());
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
    const subscribe = (on: boolean) => {
      if (on) {
        for (const event of STREAM_EVENTS) socket.on(event, streamListeners[event]);
        socket
          .on('run:status', onStatus)
          .on('annotation:added', onAdded)
          .on('annotation:edited', onEdited)
          .on('annotation:deleted', onDeleted);
        socket.on('presence', onPresence).on('runs:changed', onRuns);
      } else {
        for (const event of STREAM_EVENTS) socket.off(event, streamListeners[event]);
        socket
          .off('run:status', onStatus)
          .off('annotation:added', onAdded)
          .off('annotation:edited', onEdited)
          .off('annotation:deleted', onDeleted);
        socket.off('presence', onPresence).off('runs:changed', onRuns);
      }
    };
    subscribe(true);
    void watch();
    return () => {
      cancelled = true;
      subscribe(false);
      if (frame.current !== null) cancelAnimationFrame(frame.current);
      frame.current = null;
      if (socket.connected) void call('run:unwatch', { runId });
    };
  }, [socket, session, runId, call]);

  return { state: stateRef.current, version, error, loaded };
}
