using System.Numerics;
using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace Snn.Core.Simulation;

/// <summary>
/// The integrate-and-fire scan of one layer over a chunk of steps, fused into one pass over memory:
/// for every sample b and step k, elementwise over the layer's N neurons,
/// <code>
/// v = v + I_k          (I_k = spike current + image current, added in that order, when both exist)
/// s = v &gt; theta ? 1 : 0
/// out_k = theta * s
/// v = v - out_k
/// counts = counts + s  (when recording)
/// </code>
/// exactly the operations (and float rounding) of <see cref="Neurons.IfNeuron.Step"/>, but without a
/// temporary tensor per operation: each sample's potential row stays in cache while the chunk's steps
/// stream past it. Samples are split over <see cref="Parallel"/> workers (at most the cores torch uses).
/// Works on contiguous CPU float32 / float64 tensors; <see cref="Supports"/> says when.
/// </summary>
internal static class NeuronScan
{
    /// <summary>Whether the fused scan applies: CPU, float32 or float64.</summary>
    public static bool Supports(Tensor v) =>
        v.device_type == TorchSharp.DeviceType.CPU && (v.dtype == ScalarType.Float32 || v.dtype == ScalarType.Float64);

    /// <summary>
    /// Runs the scan in place on <paramref name="potential"/> and fills <paramref name="output"/>.
    /// Shapes: potential [B, N]; current [steps, B, N] or null; imageCurrent [B, N] or null (not both null);
    /// theta [N]; output [steps, B, N]; counts [B, N] or null. All contiguous, same dtype.
    /// </summary>
    public static void Run(Tensor potential, Tensor? current, Tensor? imageCurrent, Tensor theta, Tensor output, Tensor? counts, int steps)
    {
        var batch = (int)potential.shape[0];
        var neurons = (int)(potential.numel() / Math.Max(1, batch));
        if (potential.dtype == ScalarType.Float32)
        {
            Run<float>(potential, current, imageCurrent, theta, output, counts, steps, batch, neurons);
        }
        else
        {
            Run<double>(potential, current, imageCurrent, theta, output, counts, steps, batch, neurons);
        }
    }

    private static unsafe void Run<T>(Tensor potential, Tensor? current, Tensor? imageCurrent, Tensor theta, Tensor output, Tensor? counts, int steps, int batch, int neurons)
        where T : unmanaged, INumber<T>
    {
        var pv = (T*)Pointer(potential);
        var pc = current is null ? null : (T*)Pointer(current);
        var pi = imageCurrent is null ? null : (T*)Pointer(imageCurrent);
        var pt = (T*)Pointer(theta);
        var po = (T*)Pointer(output);
        var pn = counts is null ? null : (T*)Pointer(counts);
        var stepStride = (long)batch * neurons;
        var workers = Math.Max(1, Math.Min(TorchSharp.torch.get_num_threads(), Environment.ProcessorCount));
        var body = (int b) =>
        {
            var row = (long)b * neurons;
            for (var k = 0; k < steps; k++)
            {
                var at = (k * stepStride) + row;
                Row(pv + row, pc is null ? null : pc + at, pi is null ? null : pi + row, pt, po + at, pn is null ? null : pn + row, neurons);
            }
        };
        if (workers == 1 || batch == 1)
        {
            for (var b = 0; b < batch; b++)
            {
                body(b);
            }
        }
        else
        {
            Parallel.For(0, batch, new ParallelOptions { MaxDegreeOfParallelism = workers }, body);
        }
    }

    /// <summary>One sample, one step, over its N neurons (SIMD where available).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Row<T>(T* v, T* c, T* ic, T* theta, T* o, T* n, int neurons)
        where T : unmanaged, INumber<T>
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var width = Vector<T>.Count;
            var one = Vector<T>.One;
            for (; i <= neurons - width; i += width)
            {
                Vector<T> input;
                if (c is null)
                {
                    input = Vector.Load(ic + i);
                }
                else if (ic is null)
                {
                    input = Vector.Load(c + i);
                }
                else
                {
                    input = Vector.Load(c + i) + Vector.Load(ic + i);
                }

                var potential = Vector.Load(v + i) + input;
                var th = Vector.Load(theta + i);
                var fired = Vector.GreaterThan(potential, th);
                var spike = Vector.ConditionalSelect(fired, th, Vector<T>.Zero);
                Vector.Store(spike, o + i);
                Vector.Store(potential - spike, v + i);
                if (n is not null)
                {
                    Vector.Store(Vector.Load(n + i) + Vector.ConditionalSelect(fired, one, Vector<T>.Zero), n + i);
                }
            }
        }

        for (; i < neurons; i++)
        {
            var input = c is null ? ic[i] : ic is null ? c[i] : c[i] + ic[i];
            var potential = v[i] + input;
            var fired = potential > theta[i];
            var spike = fired ? theta[i] : T.Zero;
            o[i] = spike;
            v[i] = potential - spike;
            if (n is not null && fired)
            {
                n[i] += T.One;
            }
        }
    }

    private static unsafe void* Pointer(Tensor t)
    {
        if (!t.is_contiguous())
        {
            throw new InvalidOperationException("NeuronScan needs contiguous tensors");
        }

        fixed (byte* p = t.bytes)
        {
            return p;
        }
    }
}
