using System.Numerics;
using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace Snn.Core.Activations;

/// <summary>
/// One-pass SIMD kernels over raw float32 memory for the clip and (noisy) quantize-clip activations:
/// each forward reads x once and writes y once, each backward reads x and the output gradient g once
/// and writes dL/dx once, and reduces dL/dtheta on the way. Every kernel mirrors, operation for
/// operation, the float32 rounding of the composite reference in <see cref="ClipActivation.Functional"/>
/// and <see cref="QuantizeClipActivation.Functional"/> (see <see cref="FusedActivations"/> for the maths).
/// Work is split into fixed blocks of <see cref="BlockSize"/> elements over at most the cores torch uses;
/// the theta-gradient is summed per block in float64 and the block sums are added in block order, so
/// results do not depend on thread scheduling.
/// </summary>
internal static unsafe class FusedActivationKernels
{
    /// <summary>Elements per parallel work item (a multiple of every SIMD width).</summary>
    public const int BlockSize = 1 << 16;

    /// <summary>Elements summed in float32 before the partial sum is folded into float64.</summary>
    private const int SumChunk = 1024;

    /// <summary>Resolution of the rounding draw: a 24-bit uniform integer per element.</summary>
    public const int DrawBits = 24;

    /// <summary>y = min(max(x, 0), t) with max(x, 0) = (x &lt; 0 ? 0 : x), min(r, t) = (r &gt; t ? t : r).</summary>
    public static void ClipForward(Tensor input, Tensor output, float t)
    {
        var px = (float*)Pointer(input);
        var py = (float*)Pointer(output);
        ForBlocks(input.numel(), (start, length) =>
        {
            var x = px + start;
            var y = py + start;
            var i = 0;
            if (Vector.IsHardwareAccelerated)
            {
                var tv = new Vector<float>(t);
                for (; i <= length - Vector<float>.Count; i += Vector<float>.Count)
                {
                    var v = Vector.Load(x + i);
                    var r = Vector.ConditionalSelect(Vector.LessThan(v, Vector<float>.Zero), Vector<float>.Zero, v);
                    Vector.Store(Vector.ConditionalSelect(Vector.GreaterThan(r, tv), tv, r), y + i);
                }
            }

            for (; i < length; i++)
            {
                var r = x[i] < 0f ? 0f : x[i];
                y[i] = r > t ? t : r;
            }

            return 0.0;
        });
    }

    /// <summary>
    /// With r = max(x, 0): dx = [r &gt; 0] * (r &lt; t ? g : r == t ? g / 2 : 0), written to
    /// <paramref name="gradInput"/>; returns sum over elements of (r &gt; t ? g : r == t ? g / 2 : 0)
    /// (the gradient wrt |theta|), as relu's and minimum's backward define them.
    /// </summary>
    public static double ClipBackward(Tensor input, Tensor gradOutput, Tensor gradInput, float t)
    {
        var px = (float*)Pointer(input);
        var pg = (float*)Pointer(gradOutput);
        var pd = (float*)Pointer(gradInput);
        return ForBlocks(input.numel(), (start, length) =>
        {
            var x = px + start;
            var g = pg + start;
            var d = pd + start;
            var total = 0.0;
            var i = 0;
            if (Vector.IsHardwareAccelerated)
            {
                var tv = new Vector<float>(t);
                var half = new Vector<float>(0.5f);
                var zero = Vector<float>.Zero;
                while (i <= length - Vector<float>.Count)
                {
                    var sum = zero;
                    var end = Math.Min(length, i + SumChunk);
                    for (; i <= end - Vector<float>.Count; i += Vector<float>.Count)
                    {
                        var v = Vector.Load(x + i);
                        var gv = Vector.Load(g + i);
                        var r = Vector.ConditionalSelect(Vector.LessThan(v, zero), zero, v);
                        var tie = Vector.Equals(r, tv);
                        var tied = Vector.ConditionalSelect(tie, gv * half, gv);
                        var toInput = Vector.ConditionalSelect(Vector.GreaterThan(r, tv), zero, tied);
                        Vector.Store(Vector.ConditionalSelect(Vector.LessThanOrEqual(r, zero), zero, toInput), d + i);
                        sum += Vector.ConditionalSelect(Vector.LessThan(r, tv), zero, tied);
                    }

                    total += Vector.Sum(sum);
                }
            }

            for (; i < length; i++)
            {
                var r = x[i] < 0f ? 0f : x[i];
                var tied = r == t ? g[i] * 0.5f : g[i];
                d[i] = r <= 0f || r > t ? 0f : tied;
                total += r < t ? 0f : tied;
            }

            return total;
        });
    }

    /// <summary>
    /// r = x / t, u = (r &lt; 0 ? 0 : r) then (u &gt; 1 ? 1 : u), q = floor(u L + 1/2) / L,
    /// level = rounded ? q : u, y = t * (level + 0) (the + 0 is the composite's u - u.detach()).
    /// Rounded is every element when <paramref name="cut"/> is 2^24, else the hash draw below cut.
    /// </summary>
    public static void QuantizeClipForward(Tensor input, Tensor output, float t, int levels, uint cut, ulong seed)
    {
        var px = (float*)Pointer(input);
        var py = (float*)Pointer(output);
        var noisy = cut < (1u << DrawBits);
        ForBlocks(input.numel(), (start, length) =>
        {
            var x = px + start;
            var y = py + start;
            var i = 0;
            float l = levels;
            if (Vector.IsHardwareAccelerated)
            {
                var tv = new Vector<float>(t);
                var lv = new Vector<float>(l);
                for (; i <= length - Vector<float>.Count; i += Vector<float>.Count)
                {
                    var u = Unit(Vector.Load(x + i) / tv);
                    var level = Vector.Floor((u * lv) + new Vector<float>(0.5f)) / lv;
                    if (noisy)
                    {
                        level = Vector.ConditionalSelect(RoundedLanes(start + i, seed, cut), level, u);
                    }

                    Vector.Store(tv * (level + Vector<float>.Zero), y + i);
                }
            }

            for (; i < length; i++)
            {
                var u = Unit(x[i] / t);
                var level = MathF.Floor((u * l) + 0.5f) / l;
                if (noisy && !Rounded(start + i, seed, cut))
                {
                    level = u;
                }

                y[i] = t * (level + 0f);
            }

            return 0.0;
        });
    }

    /// <summary>
    /// Autograd of PAPER.md's t * clip(STE(floor(r L + 1/2)) / L, 0, 1), r = x / t, in that order: with
    /// a = floor(r L + 1/2) / L, a rounded entry is inside when a is in [0, 1] (the clip's closed
    /// interval, i.e. r in [-1/(2L), 1 + 1/(2L))), an unrounded one (t * clip(r, 0, 1)) when r is in
    /// [0, 1]; level as in the forward. dx = inside ? g : 0, written to <paramref name="gradInput"/>;
    /// returns sum of g * (level - (inside ? r : 0)) (the gradient wrt |theta|).
    /// </summary>
    public static double QuantizeClipBackward(Tensor input, Tensor gradOutput, Tensor gradInput, float t, int levels, uint cut, ulong seed)
    {
        var px = (float*)Pointer(input);
        var pg = (float*)Pointer(gradOutput);
        var pd = (float*)Pointer(gradInput);
        var noisy = cut < (1u << DrawBits);
        return ForBlocks(input.numel(), (start, length) =>
        {
            var x = px + start;
            var g = pg + start;
            var d = pd + start;
            var total = 0.0;
            var i = 0;
            float l = levels;
            if (Vector.IsHardwareAccelerated)
            {
                var tv = new Vector<float>(t);
                var lv = new Vector<float>(l);
                var zero = Vector<float>.Zero;
                var one = Vector<float>.One;
                while (i <= length - Vector<float>.Count)
                {
                    var sum = zero;
                    var end = Math.Min(length, i + SumChunk);
                    for (; i <= end - Vector<float>.Count; i += Vector<float>.Count)
                    {
                        var r = Vector.Load(x + i) / tv;
                        var gv = Vector.Load(g + i);
                        var a = Vector.Floor((r * lv) + new Vector<float>(0.5f)) / lv;
                        var inside = Vector.BitwiseAnd(Vector.GreaterThanOrEqual(a, zero), Vector.LessThanOrEqual(a, one));
                        var level = Unit(a);
                        if (noisy)
                        {
                            var lanes = RoundedLanes(start + i, seed, cut);
                            level = Vector.ConditionalSelect(lanes, level, Unit(r));
                            inside = Vector.ConditionalSelect(
                                Vector.AsVectorInt32(lanes), inside, Vector.BitwiseAnd(Vector.GreaterThanOrEqual(r, zero), Vector.LessThanOrEqual(r, one)));
                        }

                        Vector.Store(Vector.ConditionalSelect(inside, gv, zero), d + i);
                        sum += gv * (level - Vector.ConditionalSelect(inside, r, zero));
                    }

                    total += Vector.Sum(sum);
                }
            }

            for (; i < length; i++)
            {
                var r = x[i] / t;
                var a = MathF.Floor((r * l) + 0.5f) / l;
                var inside = a >= 0f && a <= 1f;
                var level = Unit(a);
                if (noisy && !Rounded(start + i, seed, cut))
                {
                    level = Unit(r);
                    inside = r >= 0f && r <= 1f;
                }

                d[i] = inside ? g[i] : 0f;
                total += g[i] * (level - (inside ? r : 0f));
            }

            return total;
        });
    }

    /// <summary>Writes 1 where element i is rounded (its draw is below <paramref name="cut"/>), else 0.</summary>
    public static void RoundingMask(Tensor mask, uint cut, ulong seed)
    {
        var pm = (float*)Pointer(mask);
        var n = mask.numel();
        for (long i = 0; i < n; i++)
        {
            pm[i] = Rounded(i, seed, cut) ? 1f : 0f;
        }
    }

    /// <summary>
    /// The 24-bit draw of element i: h = mix(mix(i + k0) ^ k1) &gt;&gt; 8 with k0, k1 the low and high
    /// halves of the seed and mix the "lowbias32" integer hash (a bijection of 32-bit words with full
    /// avalanche). Counter-based: any element's draw is recomputed from (seed, i) alone.
    /// </summary>
    public static uint Draw(long index, ulong seed) =>
        Mix(Mix(unchecked((uint)index + (uint)seed)) ^ (uint)(seed >> 32)) >> (32 - DrawBits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Rounded(long index, ulong seed, uint cut) => Draw(index, seed) < cut;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> RoundedLanes(long start, ulong seed, uint cut)
    {
        var index = new Vector<uint>(unchecked((uint)start + (uint)seed)) + Lanes;
        var h = Mix(Mix(index) ^ new Vector<uint>((uint)(seed >> 32)));
        var draw = Vector.AsVectorInt32(Vector.ShiftRightLogical(h, 32 - DrawBits));
        return Vector.AsVectorSingle(Vector.LessThan(draw, new Vector<int>((int)cut)));
    }

    private static readonly Vector<uint> Lanes = LaneIndices();

    private static Vector<uint> LaneIndices()
    {
        var lanes = new uint[Vector<uint>.Count];
        for (var i = 0; i < lanes.Length; i++)
        {
            lanes[i] = (uint)i;
        }

        return new Vector<uint>(lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Mix(uint x)
    {
        unchecked
        {
            x ^= x >> 16;
            x *= 0x7feb352du;
            x ^= x >> 15;
            x *= 0x846ca68bu;
            x ^= x >> 16;
            return x;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<uint> Mix(Vector<uint> x)
    {
        x ^= Vector.ShiftRightLogical(x, 16);
        x *= new Vector<uint>(0x7feb352du);
        x ^= Vector.ShiftRightLogical(x, 15);
        x *= new Vector<uint>(0x846ca68bu);
        x ^= Vector.ShiftRightLogical(x, 16);
        return x;
    }

    /// <summary>clamp(r, 0, 1) as (r &lt; 0 ? 0 : r) then (u &gt; 1 ? 1 : u).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Unit(Vector<float> r)
    {
        var u = Vector.ConditionalSelect(Vector.LessThan(r, Vector<float>.Zero), Vector<float>.Zero, r);
        return Vector.ConditionalSelect(Vector.GreaterThan(u, Vector<float>.One), Vector<float>.One, u);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Unit(float r)
    {
        var u = r < 0f ? 0f : r;
        return u > 1f ? 1f : u;
    }

    /// <summary>
    /// Runs <paramref name="block"/>(start, length) over consecutive blocks of <see cref="BlockSize"/>
    /// elements, in parallel when there are several, and returns the sum of the block results in block order.
    /// </summary>
    private static double ForBlocks(long count, Func<long, int, double> block)
    {
        var blocks = (int)((count + BlockSize - 1) / BlockSize);
        var workers = Math.Max(1, Math.Min(get_num_threads(), Environment.ProcessorCount));
        var partial = new double[blocks];
        var body = (int b) =>
        {
            var start = (long)b * BlockSize;
            partial[b] = block(start, (int)Math.Min(BlockSize, count - start));
        };
        if (workers == 1 || blocks == 1)
        {
            for (var b = 0; b < blocks; b++)
            {
                body(b);
            }
        }
        else
        {
            Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = workers }, body);
        }

        var total = 0.0;
        foreach (var p in partial)
        {
            total += p;
        }

        return total;
    }

    private static void* Pointer(Tensor t)
    {
        if (!t.is_contiguous() || t.dtype != ScalarType.Float32 || t.device_type != TorchSharp.DeviceType.CPU)
        {
            throw new InvalidOperationException("the fused activation kernels need contiguous float32 CPU tensors");
        }

        fixed (byte* p = t.bytes)
        {
            return p;
        }
    }
}
