using System.Numerics;
using System.Runtime.CompilerServices;
using Snn.Core.Native;
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
/// stream past it. Samples are split over torch's own threads (<see cref="TorchThreads"/>).
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
    /// <param name="potential">v, [B, N], updated in place.</param>
    /// <param name="current">Synaptic currents of the chunk, [steps, B, N], or null.</param>
    /// <param name="imageCurrent">The time-invariant image current, [B, N], or null.</param>
    /// <param name="theta">theta &gt; 0 per neuron, [N].</param>
    /// <param name="output">Receives theta * s per step (pooled when <paramref name="pool"/> &gt; 1).</param>
    /// <param name="counts">Spike counts, [B, N], incremented in place, or null.</param>
    /// <param name="steps">The chunk's steps, &gt;= 1.</param>
    /// <param name="pool">
    /// 1: output holds theta * s. k &gt; 1: output [steps, B, C, H / k, W / k] holds the k x k average
    /// pooling (stride k, no padding, floor) of theta * s, computed as the sum over the window in row order
    /// divided by k * k, as avg_pool2d does; the full spike map then never leaves the cache.
    /// </param>
    /// <param name="channels">C, when pooling (the neuron shape is [C, H, W]).</param>
    /// <param name="height">H, when pooling.</param>
    /// <param name="width">W, when pooling.</param>
    public static void Run(Tensor potential, Tensor? current, Tensor? imageCurrent, Tensor theta, Tensor output, Tensor? counts, int steps,
        int pool = 1, int channels = 0, int height = 0, int width = 0)
    {
        var batch = (int)potential.shape[0];
        var neurons = (int)(potential.numel() / Math.Max(1, batch));
        var shape = new PoolShape(pool, channels, height, width);
        if (potential.dtype == ScalarType.Float32)
        {
            Run<float>(potential, current, imageCurrent, theta, output, counts, steps, batch, neurons, shape);
        }
        else
        {
            Run<double>(potential, current, imageCurrent, theta, output, counts, steps, batch, neurons, shape);
        }
    }

    private readonly record struct PoolShape(int K, int C, int H, int W)
    {
        public int OutH => H / K;

        public int OutW => W / K;

        public int OutSize => K == 1 ? C * H * W : C * OutH * OutW;
    }

    private static unsafe void Run<T>(Tensor potential, Tensor? current, Tensor? imageCurrent, Tensor theta, Tensor output, Tensor? counts, int steps, int batch, int neurons, PoolShape pool)
        where T : unmanaged, INumber<T>
    {
        if (pool.K > 1)
        {
            RunPooled<T>(potential, current, imageCurrent, theta, output, counts, steps, batch, neurons, pool);
            return;
        }

        var pv = (T*)Pointer(potential);
        var pc = current is null ? null : (T*)Pointer(current);
        var pi = imageCurrent is null ? null : (T*)Pointer(imageCurrent);
        var pt = (T*)Pointer(theta);
        var po = (T*)Pointer(output);
        var pn = counts is null ? null : (T*)Pointer(counts);
        var stepStride = (long)batch * neurons;
        TorchThreads.For(batch, b =>
        {
            var row = (long)b * neurons;
            for (var k = 0; k < steps; k++)
            {
                var at = (k * stepStride) + row;
                Row(pv + row, pc is null ? null : pc + at, pi is null ? null : pi + row, pt, po + at, pn is null ? null : pn + row, neurons);
            }
        });
    }

    private static unsafe void RunPooled<T>(Tensor potential, Tensor? current, Tensor? imageCurrent, Tensor theta, Tensor output, Tensor? counts, int steps, int batch, int neurons, PoolShape pool)
        where T : unmanaged, INumber<T>
    {
        var pv = (T*)Pointer(potential);
        var pc = current is null ? null : (T*)Pointer(current);
        var pi = imageCurrent is null ? null : (T*)Pointer(imageCurrent);
        var pt = (T*)Pointer(theta);
        var po = (T*)Pointer(output);
        var pn = counts is null ? null : (T*)Pointer(counts);
        var stepStride = (long)batch * neurons;
        var outSize = pool.OutSize;
        var outStride = (long)batch * outSize;
        TorchThreads.For(batch, b =>
        {
            var row = (long)b * neurons;
            var scratch = Scratch<T>.Get(neurons);
            fixed (T* spikes = scratch)
            {
                for (var k = 0; k < steps; k++)
                {
                    var at = (k * stepStride) + row;
                    Row(pv + row, pc is null ? null : pc + at, pi is null ? null : pi + row, pt, spikes, pn is null ? null : pn + row, neurons);
                    Pool(spikes, po + (k * outStride) + ((long)b * outSize), pool);
                }
            }
        });
    }

    /// <summary>A per-thread spike row for the pooled scan, reused across calls (grown when a layer is larger).</summary>
    private static class Scratch<T>
        where T : unmanaged
    {
        [ThreadStatic]
        private static T[]? row;

        public static T[] Get(int length)
        {
            if (row is null || row.Length < length)
            {
                row = new T[length];
            }

            return row;
        }
    }

    /// <summary>k x k average pooling, stride k, floor: the window sum in row order divided by k * k.</summary>
    private static unsafe void Pool<T>(T* input, T* output, PoolShape pool)
        where T : unmanaged, INumber<T>
    {
        var (k, h, w) = (pool.K, pool.H, pool.W);
        var (oh, ow) = (pool.OutH, pool.OutW);
        var divisor = T.CreateChecked(k * k);
        for (var c = 0; c < pool.C; c++)
        {
            var plane = input + ((long)c * h * w);
            var outPlane = output + ((long)c * oh * ow);
            for (var i = 0; i < oh; i++)
            {
                for (var j = 0; j < ow; j++)
                {
                    var sum = T.Zero;
                    for (var di = 0; di < k; di++)
                    {
                        var line = plane + ((long)((i * k) + di) * w) + (j * k);
                        for (var dj = 0; dj < k; dj++)
                        {
                            sum += line[dj];
                        }
                    }

                    outPlane[(i * ow) + j] = sum / divisor;
                }
            }
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
