using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Native;

/// <summary>
/// Scalars that live as long as the process. TorchSharp turns a number passed where a
/// <see cref="Scalar"/> is expected (the alpha of <c>a + b</c> and <c>add_</c>, a clamp bound, the t of
/// <c>x / t</c>, the 1 of <c>1 - x</c>) into a temporary Scalar that nothing references once its native
/// handle has been handed to libtorch; a garbage collection on another thread can then finalize it,
/// freeing the native value while libtorch still reads it (c10 "toDouble" check failures, seen under
/// parallel tests). Snn.Core passes these instead, or a Scalar held by a <c>using</c> for the duration of
/// the call. Each has the type TorchSharp's implicit conversion would give (int or double), so results
/// are bit-identical to the implicit forms.
/// </summary>
internal static class Scalars
{
    /// <summary>The integer 1: the alpha of an addition (what TorchSharp's <c>add(Tensor)</c> passes).</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>The integer 0.</summary>
    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary>The double 0.0.</summary>
    public static readonly Scalar ZeroReal = 0.0.ToScalar();

    /// <summary>The double 1.0.</summary>
    public static readonly Scalar OneReal = 1.0.ToScalar();

    /// <summary>The double 0.5.</summary>
    public static readonly Scalar Half = 0.5.ToScalar();

    /// <summary>1 - x, as TorchSharp's <c>1 - x</c> computes it (-x + 1).</summary>
    /// <param name="x">Any tensor.</param>
    public static Tensor OneMinus(Tensor x)
    {
        using var negated = x.negative();
        return negated.add(One, One);
    }
}
