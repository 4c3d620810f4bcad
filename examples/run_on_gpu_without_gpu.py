"""Check that your own layer would run on a GPU, on a machine without one.

    python examples/run_on_gpu_without_gpu.py

The CuPy-rules emulator (``backend.use("cupy-emulator")``) computes with NumPy but keeps
CuPy's rules: device arrays are not NumPy arrays, nothing converts between host and device
implicitly, only CuPy 14's functions exist, and every device-to-host transfer is counted. So a
layer that passes here runs on CuPy, and one that fails here fails on a GPU for the same
reason. Three versions of a Swish activation, ``y = x * sigmoid(x)``:

1. written against ``xp = backend.get_array_module(x.data)``: runs on the device, and its
   gradient there equals the CPU's;
2. calling ``backend.np`` (host NumPy) on the data: the emulator stops it with the TypeError
   CuPy would raise;
3. reading a value back to the host inside the layer (``float(...)``): it runs, but costs a
   device-to-host sync every call, which ``backend.sync_count()`` shows.
"""

from __future__ import annotations

from minialex import Tensor, backend, gradcheck


def swish(x: Tensor) -> Tensor:
    """y = x * sigmoid(x); dy/dx = s + x s (1 - s). x: any shape."""
    xp = backend.get_array_module(x.data)  # numpy on the CPU, cupy (or the emulator) on a GPU
    s = 1.0 / (1.0 + xp.exp(-x.data))
    out = x.data * s

    def _backward(g):
        x.accumulate_grad(g * (s + x.data * s * (1.0 - s)))

    return Tensor.from_op(out, (x,), _backward, op="swish")


def swish_host_numpy(x: Tensor) -> Tensor:
    """The same layer with a GPU bug: it calls host NumPy on the data."""
    s = 1.0 / (1.0 + backend.np.exp(-x.data))
    return Tensor.from_op(x.data * s, (x,), lambda g: None, op="swish_host_numpy")


def swish_with_a_sync(x: Tensor) -> Tensor:
    """Correct on a GPU, but checks a value on the host: a blocking transfer every call."""
    if float(abs(x.data).max()) > 80.0:  # device -> host, and the GPU waits for it
        raise ValueError("swish: input too large")
    return swish(x)


def main() -> None:
    np = backend.np
    values = np.array([[-2.0, -0.5, 0.3], [1.0, 2.5, -1.5]])
    on_cpu = Tensor(values, requires_grad=True)
    swish(on_cpu).sum().backward()

    with backend.using("cupy-emulator"):
        x = Tensor(values, requires_grad=True).to("gpu")  # a device array, not numpy
        x.retain_grad()
        y = swish(x)
        y.sum().backward()
        print(f"1. swish on the emulated GPU: output on {y.device}, "
              f"{type(y.data).__name__} (a NumPy array: {isinstance(y.data, np.ndarray)})")
        difference = float(abs(backend.to_host(x.grad) - on_cpu.grad).max())
        print(f"   gradient on the device vs on the CPU: max difference {difference:.1e}")
        leaf = Tensor(backend.to_device(values, "gpu"), requires_grad=True)
        print(f"   gradcheck on the device (float64): {gradcheck(swish, [leaf])}")

        try:
            swish_host_numpy(Tensor(backend.to_device(values, "gpu")))
        except TypeError as exc:
            print(f"2. swish_host_numpy on the device: TypeError: {exc}")

        device_input = Tensor(backend.to_device(values, "gpu"))
        before = backend.sync_count()
        for _ in range(10):
            swish(device_input)
        plain = backend.sync_count() - before
        before = backend.sync_count()
        for _ in range(10):
            swish_with_a_sync(device_input)
        synced = backend.sync_count() - before
        print(f"3. device-to-host syncs in 10 calls: swish {plain}, swish_with_a_sync {synced}")


if __name__ == "__main__":
    main()
