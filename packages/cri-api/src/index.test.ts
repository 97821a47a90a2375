import { describe, expect, it } from 'vitest';
import { cri, ImageService, RuntimeService } from './index';

describe('CRI runtime.v1 descriptors', () => {
  it('name the services and methods kubelet calls, at their wire paths', () => {
    expect(RuntimeService.fullName).toBe('runtime.v1.RuntimeService');
    expect(RuntimeService.methods.RunPodSandbox.path).toBe('/runtime.v1.RuntimeService/RunPodSandbox');
    expect(RuntimeService.methods.GetContainerEvents.responseStream).toBe(true);
    expect(ImageService.methods.PullImage.path).toBe('/runtime.v1.ImageService/PullImage');
    expect(Object.keys(RuntimeService.methods)).toHaveLength(29);
    expect(Object.keys(ImageService.methods)).toEqual(['ListImages', 'ImageStatus', 'PullImage', 'RemoveImage', 'ImageFsInfo']);
  });

  it('round-trip a request through protobuf', () => {
    const m = RuntimeService.methods.RunPodSandbox;
    const req = m.createRequest({ config: { metadata: { name: 'web', namespace: 'default', uid: 'u1', attempt: 2 }, hostname: 'web-0', labels: { app: 'web' } }, runtimeHandler: 'runc' });
    const back = m.decodeRequest(m.encode(req));
    expect(back.config?.metadata).toEqual({ name: 'web', namespace: 'default', uid: 'u1', attempt: 2 });
    expect(back.config?.labels).toEqual({ app: 'web' });
    expect(back.runtimeHandler).toBe('runc');
    expect(cri.NamespaceMode.POD).toBe(0);
  });
});
