using Snn.Core.Native;
using Snn.Core.Activations;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Errors;

/// <summary>
/// The exact split of the ANN-SNN gap of a layer into three terms (PAPER.md):
/// <code>
/// r - ReLU(z) = [r - QC_T(z)]          residual-membrane-potential representation error
///             + [QC_T(z) - clip(z)]    quantization error, |.| &lt;= theta / (2T)
///             + [clip(z) - ReLU(z)]    clipping error
/// </code>
/// with z = (1/T) sum_t I(t) the mean input current, r = (1/T) sum_t theta s(t) the output rate,
/// QC_T from <see cref="QuantizeClipActivation.Functional.QuantizeClip"/> and clip from
/// <see cref="ClipActivation.Functional.Clip"/> (one implementation of each equation).
/// All arithmetic is in float64, without gradients.
/// </summary>
public static class ErrorDecomposition
{
    /// <summary>The three per-neuron error terms; the caller disposes the result.</summary>
    /// <param name="meanInput">z, shape [B, ...], finite values.</param>
    /// <param name="rate">r, the same shape as z.</param>
    /// <param name="threshold">theta, every entry finite and &gt; 0, broadcastable to z (a scalar or one per neuron).</param>
    /// <param name="timeSteps">T &gt;= 1, the simulation length (QC uses L = T levels).</param>
    /// <exception cref="ArgumentException">T &lt; 1, a threshold &lt;= 0, or shapes that do not match.</exception>
    public static ErrorTerms Decompose(Tensor meanInput, Tensor rate, Tensor threshold, int timeSteps)
    {
        Validate(meanInput, rate, threshold, timeSteps);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var z = meanInput.to_type(ScalarType.Float64);
        var r = rate.to_type(ScalarType.Float64);
        var theta = threshold.to_type(ScalarType.Float64);
        var quantized = QuantizeClipActivation.Functional.QuantizeClip(z, theta, timeSteps);
        var clipped = ClipActivation.Functional.Clip(z, theta);
        var rectified = nn.functional.relu(z);
        return new ErrorTerms(
            (r - quantized).MoveToOuterDisposeScope(),
            (quantized - clipped).MoveToOuterDisposeScope(),
            (clipped - rectified).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// How far a simulation is from the exact identity of PAPER.md, per neuron:
    /// <code>|r - z - (v(0) - v(T)) / T|</code>
    /// computed as |(r - z) - (v(0) - v(T)) / T| in the dtype of the inputs. Zero in exact arithmetic for every
    /// integrate-and-fire run; in floating point it measures the rounding of the simulation.
    /// </summary>
    /// <param name="meanInput">z = (1/T) sum_t I(t).</param>
    /// <param name="rate">r = (1/T) sum_t theta s(t), broadcastable with z.</param>
    /// <param name="initialPotential">v(0), broadcastable with z.</param>
    /// <param name="finalPotential">v(T), broadcastable with z.</param>
    /// <param name="timeSteps">T &gt;= 1.</param>
    /// <exception cref="ArgumentException">T &lt; 1.</exception>
    public static Tensor IdentityDeviation(Tensor meanInput, Tensor rate, Tensor initialPotential, Tensor finalPotential, int timeSteps)
    {
        Guard.AtLeast(timeSteps, 1, nameof(timeSteps), "time steps T");
        using var scope = NewDisposeScope();
        using var steps = timeSteps.ToScalar();
        return (rate - meanInput - (initialPotential - finalPotential).div(steps)).abs().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Summarizes one batch of a layer: sums of |e| and e for each term and for r - ReLU(z), counts of
    /// entries with v(T) &lt; 0 and with v(T) &gt;= theta, and max |r - z - (v(0) - v(T)) / T|.
    /// Merge the summaries of successive batches with <see cref="LayerErrorSummary.Merge"/>.
    /// <para>
    /// Every per-entry term is computed in float64 with the operations of <see cref="Decompose"/> in their
    /// order. When z, r and v(T) are contiguous float32 CPU tensors and theta and v(0) are float32 CPU tensors
    /// with one element, one entry per neuron (the same for every sample of the batch) or z's full shape, this
    /// runs in one parallel pass over the memory (each term bit-identical to the tensor form; the sums are
    /// accumulated in float64 per fixed block of entries and the blocks added in order, so they are
    /// deterministic and differ from the tensor form's summation only by float64 rounding, about 1e-12
    /// relative). Other inputs (other dtypes or devices, non-contiguous z, r or v(T), theta or v(0) varying
    /// along the batch axis without z's shape) take the whole-tensor float64 form.
    /// </para>
    /// </summary>
    /// <param name="meanInput">z, shape [B, ...].</param>
    /// <param name="rate">r, the same shape as z.</param>
    /// <param name="threshold">theta, every entry finite and &gt; 0, broadcastable to z.</param>
    /// <param name="timeSteps">T &gt;= 1.</param>
    /// <param name="initialPotential">v(0), broadcastable to z.</param>
    /// <param name="finalPotential">v(T), the same shape as z.</param>
    /// <exception cref="ArgumentException">T &lt; 1, a threshold &lt;= 0, or shapes that do not match.</exception>
    public static LayerErrorSummary Summarize(
        Tensor meanInput, Tensor rate, Tensor threshold, int timeSteps, Tensor initialPotential, Tensor finalPotential)
    {
        Validate(meanInput, rate, threshold, timeSteps);
        Guard.Broadcastable(initialPotential, meanInput.shape, nameof(initialPotential));
        Guard.SameShape(finalPotential, meanInput.shape, nameof(finalPotential));
        return ErrorSummaryKernel.TrySummarize(meanInput, rate, threshold, timeSteps, initialPotential, finalPotential)
            ?? SummarizeTensors(meanInput, rate, threshold, timeSteps, initialPotential, finalPotential);
    }

    /// <summary>
    /// <see cref="Summarize"/> as whole-tensor float64 operations (arguments already validated): the form
    /// for inputs the kernel does not take, and the reference the kernel is tested against.
    /// </summary>
    private static LayerErrorSummary SummarizeTensors(
        Tensor meanInput, Tensor rate, Tensor threshold, int timeSteps, Tensor initialPotential, Tensor finalPotential)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var terms = Decompose(meanInput, rate, threshold, timeSteps);
        var z = meanInput.to_type(ScalarType.Float64);
        var r = rate.to_type(ScalarType.Float64);
        var theta = threshold.to_type(ScalarType.Float64);
        var v0 = initialPotential.to_type(ScalarType.Float64);
        var vT = finalPotential.to_type(ScalarType.Float64);
        var total = r - nn.functional.relu(z);
        var deviation = IdentityDeviation(z, r, v0, vT, timeSteps);
        var count = meanInput.numel();
        return new LayerErrorSummary(
            count,
            Sums(terms.Residual),
            Sums(terms.Quantization),
            Sums(terms.Clipping),
            Sums(total),
            vT.lt(Scalars.ZeroReal).sum().item<long>(),
            vT.ge(theta).sum().item<long>(),
            count == 0 ? 0.0 : deviation.max().item<double>());
    }

    private static ErrorTermSums Sums(Tensor term) =>
        new(term.abs().sum().item<double>(), term.sum().item<double>());

    private static void Validate(Tensor meanInput, Tensor rate, Tensor threshold, int timeSteps)
    {
        Guard.AtLeast(timeSteps, 1, nameof(timeSteps), "time steps T");
        Guard.SameShape(rate, meanInput.shape, nameof(rate));
        Guard.Positive(threshold, nameof(threshold));
        Guard.Broadcastable(threshold, meanInput.shape, nameof(threshold));
    }
}
