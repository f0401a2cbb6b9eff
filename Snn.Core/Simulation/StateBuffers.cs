using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Simulation;

/// <summary>
/// Reusable simulation state of one (layer count, batch, dtype, chunk): per layer the potential v
/// [B, ...] and the output buffer [chunk, B, ...] whose first steps a chunk writes. Owned by no dispose
/// scope; every element is overwritten before it is read in a run (v from v(0), outputs by the scan).
/// </summary>
internal sealed class StateBuffers(int layers, long batch, ScalarType dtype, int chunk, Device device) : IDisposable
{
    private readonly Tensor?[] potentials = new Tensor?[layers];
    private readonly Tensor?[] outputs = new Tensor?[layers];

    /// <summary>Whether these buffers serve a run of this size.</summary>
    public bool Fits(int n, long b, ScalarType type, int c, Device other) =>
        n == layers && b == batch && type == dtype && c == chunk && other.type == device.type && other.index == device.index;

    /// <summary>Layer l's potential buffer, [B, ...neuron shape].</summary>
    public Tensor Potential(int l, long[] neuronShape)
    {
        potentials[l] ??= torch.empty([batch, .. neuronShape], dtype, device).DetachFromDisposeScope();
        return potentials[l]!.alias();
    }

    /// <summary>Layer l's output buffer for a chunk of shape [steps, B, ...] (steps &lt;= chunk): a view of its first steps.</summary>
    public Tensor Output(int l, long[] shape)
    {
        outputs[l] ??= torch.empty([chunk, .. shape[1..]], dtype, device).DetachFromDisposeScope();
        return outputs[l]!.narrow(0, 0, shape[0]);
    }

    /// <summary>Disposes every buffer.</summary>
    public void Dispose()
    {
        foreach (var t in potentials.Concat(outputs))
        {
            t?.Dispose();
        }
    }
}
