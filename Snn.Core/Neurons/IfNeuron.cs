using Snn.Core.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Neurons;

/// <summary>
/// The outcome of one integrate-and-fire step: the spikes s(t) in {0, 1} and the potential v(t)
/// after the soft reset.
/// </summary>
/// <param name="Spikes">s(t) = 1 where v(t) &gt; theta after charging, else 0; same shape as the input.</param>
/// <param name="Potential">v(t) = v(t-1) + I(t) - theta * s(t): the membrane potential after the soft reset.</param>
public readonly record struct IfStepResult(Tensor Spikes, Tensor Potential);

/// <summary>
/// The outcome of a T-step integrate-and-fire run over an input of shape [T, B, ...].
/// </summary>
/// <param name="Outputs">theta * s(t) for t = 1..T, shape [T, B, ...]: each spike carries its threshold.</param>
/// <param name="SpikeCounts">sum over t of s(t), shape [B, ...], values in [0, T].</param>
/// <param name="FinalPotential">v(T), shape [B, ...].</param>
public readonly record struct IfRunResult(Tensor Outputs, Tensor SpikeCounts, Tensor FinalPotential);

/// <summary>
/// The integrate-and-fire neuron with soft reset (PAPER.md, "Neuron"), as pure functions over
/// tensors: state in, state out, nothing hidden. For a threshold theta &gt; 0 and input current I(t):
/// <code>
/// charge: v(t) = v(t-1) + I(t)
/// fire:   s(t) = 1 if v(t) &gt; theta else 0
/// reset:  v(t) = v(t) - theta * s(t)      (subtract, never zero)
/// output: x_out(t) = theta * s(t)
/// </code>
/// Thresholds and initial potentials are tensors broadcastable to the neuron shape: a scalar for
/// one threshold per layer, or one value per neuron.
/// </summary>
public static class IfNeuron
{
    /// <summary>Charge: v(t) = v(t-1) + I(t). Shapes must broadcast.</summary>
    /// <param name="potential">v(t-1), any real values.</param>
    /// <param name="current">I(t) = W x(t) + b, any real values.</param>
    public static Tensor Charge(Tensor potential, Tensor current) => potential.add(current, Scalars.One);

    /// <summary>Fire: s(t) = 1 where v(t) &gt; theta, else 0 (a strict comparison), in the dtype of v.</summary>
    /// <param name="potential">v(t) after charging.</param>
    /// <param name="threshold">theta &gt; 0, broadcastable to v.</param>
    public static Tensor Fire(Tensor potential, Tensor threshold) => potential.gt(threshold).to_type(potential.dtype);

    /// <summary>Soft reset: v(t) = v(t) - theta * s(t). The potential is reduced by the threshold, never set to zero.</summary>
    /// <param name="potential">v(t) after charging.</param>
    /// <param name="spikes">s(t) in {0, 1}.</param>
    /// <param name="threshold">theta &gt; 0, broadcastable to v.</param>
    public static Tensor Reset(Tensor potential, Tensor spikes, Tensor threshold) => potential - threshold * spikes;

    /// <summary>The paper's initial potential, the "half shift": v(0) = theta / 2.</summary>
    /// <param name="threshold">theta &gt; 0, any shape.</param>
    public static Tensor HalfShift(Tensor threshold)
    {
        using var two = 2.ToScalar();
        return threshold.div(two);
    }

    /// <summary>
    /// The output rate over T steps from the spike counts: r = (1/T) sum_t x_out(t) = theta * (sum_t s(t)) / T,
    /// computed as (counts * theta) / T.
    /// </summary>
    /// <param name="spikeCounts">sum_t s(t), integers in [0, T].</param>
    /// <param name="threshold">theta &gt; 0, broadcastable to the counts.</param>
    /// <param name="timeSteps">T &gt;= 1.</param>
    public static Tensor Rate(Tensor spikeCounts, Tensor threshold, int timeSteps)
    {
        using var steps = timeSteps.ToScalar();
        return (spikeCounts * threshold).div_(steps);
    }

    /// <summary>One step: charge, fire, soft reset. Returns s(t) and v(t).</summary>
    /// <param name="potential">v(t-1).</param>
    /// <param name="current">I(t), same shape as v(t-1) or broadcastable to it.</param>
    /// <param name="threshold">theta &gt; 0, broadcastable to v.</param>
    public static IfStepResult Step(Tensor potential, Tensor current, Tensor threshold)
    {
        using var charged = Charge(potential, current);
        var spikes = Fire(charged, threshold);
        return new IfStepResult(spikes, Reset(charged, spikes, threshold));
    }

    /// <summary>
    /// <see cref="Step"/> in place, for simulators that keep their state in preallocated buffers: charge
    /// v = v + I, fire s = [v &gt; theta], output x_out = theta * s written to <paramref name="output"/>, soft
    /// reset v = v - x_out. The same operations in the same order as <see cref="Charge"/>, <see cref="Fire"/>
    /// and <see cref="Reset"/> (theta * s is exact for s in {0, 1}), so v and x_out are bit-identical to
    /// <see cref="Step"/>'s; a test ties them.
    /// </summary>
    /// <param name="potential">v(t-1), [B, ...]; holds v(t) afterwards.</param>
    /// <param name="current">I(t), broadcastable to v.</param>
    /// <param name="threshold">theta &gt; 0, broadcastable to v, in the dtype of v.</param>
    /// <param name="output">Receives x_out(t) = theta * s(t), the shape and dtype of v.</param>
    /// <returns>s(t) as a bool tensor, the shape of v.</returns>
    public static Tensor StepInPlace(Tensor potential, Tensor current, Tensor threshold, Tensor output)
    {
        potential.add_(current, Scalars.One);
        var spikes = potential.gt(threshold);
        output.copy_(spikes).mul_(threshold);
        potential.sub_(output);
        return spikes;
    }

    /// <summary>
    /// Runs T steps of <see cref="Step"/> over <paramref name="currents"/> of shape [T, B, ...] from
    /// v(0) = <paramref name="initialPotential"/>, and returns the theta-weighted outputs
    /// x_out(t) = theta * s(t) [T, B, ...], the spike counts sum_t s(t) [B, ...] in [0, T] and the final
    /// potential v(T) [B, ...], all in the dtype of <paramref name="currents"/>.
    /// Summing the dynamics gives, for every neuron, r = z + (v(0) - v(T)) / T with r = mean_t x_out(t)
    /// and z = mean_t I(t) (exact in real arithmetic; up to rounding in floating point).
    /// The dynamics come only from <see cref="Charge"/>, <see cref="Fire"/> and <see cref="Reset"/>.
    /// Intended for inference; for backpropagation through time compose <see cref="Step"/> with a
    /// surrogate spike function instead.
    /// </summary>
    /// <param name="currents">I(1..T), shape [T, B, ...] with T &gt;= 1, any finite real values.</param>
    /// <param name="threshold">theta, all entries finite and &gt; 0, broadcastable to [B, ...] (a scalar per layer or one per neuron).</param>
    /// <param name="initialPotential">v(0), broadcastable to [B, ...]; the paper's default is theta / 2.</param>
    /// <exception cref="ArgumentException">T &lt; 1, a threshold &lt;= 0 or not finite, or shapes that do not broadcast.</exception>
    public static IfRunResult Run(Tensor currents, Tensor threshold, Tensor initialPotential)
    {
        Guard.Rank(currents, 1, nameof(currents), "[T, B, ...] with T >= 1");
        var steps = currents.shape[0];
        Guard.AtLeast(steps, 1, nameof(currents), "time steps T (first dimension)");
        Guard.Positive(threshold, nameof(threshold));
        var neuronShape = currents.shape[1..];
        Guard.Broadcastable(threshold, neuronShape, nameof(threshold));
        Guard.Broadcastable(initialPotential, neuronShape, nameof(initialPotential));

        using var scope = NewDisposeScope();
        var theta = threshold.to_type(currents.dtype);
        var v = initialPotential.to_type(currents.dtype).expand(neuronShape).clone();
        var outputs = torch.empty_like(currents);
        var counts = torch.zeros(neuronShape, currents.dtype, currents.device);
        for (long t = 0; t < steps; t++)
        {
            using var inner = NewDisposeScope();
            var (spikes, potential) = Step(v, currents[t], theta);
            v.copy_(potential);
            counts.add_(spikes, Scalars.One);
            outputs[t].copy_(spikes * theta);
        }

        return new IfRunResult(outputs.MoveToOuterDisposeScope(), counts.MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope());
    }
}
