using static TorchSharp.torch;

namespace Snn.Core.Errors;

/// <summary>
/// The three per-neuron terms of the exact split (PAPER.md, "The exact identity and the three errors")
/// <code>r - ReLU(z) = [r - QC_T(z)] + [QC_T(z) - clip(z)] + [clip(z) - ReLU(z)]</code>
/// Each tensor has the shape of the mean input z, dtype float64. The caller owns (disposes) them.
/// </summary>
/// <param name="Residual">r - QC_T(z): residual-membrane-potential representation error; 0 whenever 0 &lt;= v(T) &lt; theta and v(0) = theta / 2.</param>
/// <param name="Quantization">QC_T(z) - clip(z): quantization error, |.| &lt;= theta / (2T).</param>
/// <param name="Clipping">clip(z) - ReLU(z) = -(z - theta) where z &gt; theta, else 0: clipping error, &lt;= 0.</param>
public readonly record struct ErrorTerms(Tensor Residual, Tensor Quantization, Tensor Clipping) : IDisposable
{
    /// <summary>Disposes the three tensors.</summary>
    public void Dispose()
    {
        Residual.Dispose();
        Quantization.Dispose();
        Clipping.Dispose();
    }
}
