import { Toaster } from '@/components/ui/toaster';
import { GraphqlProvider } from './providers';
import { SessionGate } from './session-gate';

export function App() {
  return (
    <GraphqlProvider>
      <SessionGate />
      <Toaster />
    </GraphqlProvider>
  );
}
