namespace Snn.Core.Neurons;

/// <summary>
/// The outcome of a scalar integrate-and-fire run of one neuron over T steps.
/// </summary>
/// <param name="Outputs">x_out(t) = theta * s(t) for t = 1..T: theta where the neuron fired, 0 elsewhere.</param>
/// <param name="Spikes">sum over t of s(t), in [0, T].</param>
/// <param name="FinalPotential">v(T), the potential left after the last soft reset.</param>
public readonly record struct ScalarIfRunResult(double[] Outputs, int Spikes, double FinalPotential);

/// <summary>
/// A double-precision reference of one integrate-and-fire neuron with soft reset (PAPER.md, "Neuron"),
/// written as a plain scalar loop so that the tensor <see cref="IfNeuron"/> can be checked against it:
/// <code>
/// v(t) = v(t-1) + I(t);   s(t) = [v(t) &gt; theta];   v(t) = v(t) - theta * s(t);   x_out(t) = theta * s(t)
/// </code>
/// </summary>
public static class ScalarIfNeuron
{
    /// <summary>Runs one neuron for T = <c>currents.Length</c> steps from v(0) = <paramref name="initialPotential"/>.</summary>
    /// <param name="currents">I(1..T), T &gt;= 1 finite values.</param>
    /// <param name="threshold">theta, finite and &gt; 0.</param>
    /// <param name="initialPotential">v(0), finite (the paper uses theta / 2).</param>
    /// <returns>The outputs theta * s(t), the spike count in [0, T] and v(T).</returns>
    /// <exception cref="ArgumentException">T &lt; 1, theta &lt;= 0 or not finite, v(0) or a current not finite.</exception>
    public static ScalarIfRunResult Run(double[] currents, double threshold, double initialPotential)
    {
        ArgumentNullException.ThrowIfNull(currents);
        Guard.AtLeast(currents.Length, 1, nameof(currents), "time steps T (length)");
        Guard.Positive(threshold, nameof(threshold));
        Guard.Finite(initialPotential, nameof(initialPotential));
        foreach (var current in currents)
        {
            Guard.Finite(current, nameof(currents));
        }

        var outputs = new double[currents.Length];
        var spikes = 0;
        var potential = initialPotential;
        for (var t = 0; t < currents.Length; t++)
        {
            potential += currents[t];
            if (potential > threshold)
            {
                potential -= threshold;
                outputs[t] = threshold;
                spikes++;
            }
        }

        return new ScalarIfRunResult(outputs, spikes, potential);
    }
}
