import { useSyncExternalStore } from 'react';
import type { ToastVariant } from './toast';

export interface ToastMessage {
  id: number;
  title: string;
  description?: string;
  variant?: ToastVariant;
}

// A tiny module-level store: any component can raise a toast without a provider of its own.
let toasts: ToastMessage[] = [];
let nextId = 1;
const listeners = new Set<() => void>();
const emit = () => listeners.forEach((l) => l());

export function toast(message: Omit<ToastMessage, 'id'>) {
  const id = nextId++;
  toasts = [...toasts.slice(-3), { ...message, id }];
  emit();
  return id;
}

export function dismissToast(id: number) {
  toasts = toasts.filter((t) => t.id !== id);
  emit();
}

export function useToasts(): ToastMessage[] {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => toasts,
  );
}

/** Drops every toast: on sign-in and sign-out, so one person's messages never show to the next. */
export function clearToasts() {
  toasts = [];
  emit();
}
