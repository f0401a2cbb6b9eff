using Snn.Core.Native;
using Snn.Core.Neurons;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Simulation;

/// <summary>
/// The straightforward reference simulation of a <see cref="SpikingNetwork"/>: at every step t = 1..T,
/// every layer computes its current I(t) = sum of its synapses on x_source(t) (the image synapse
/// included, recomputed each step), and a stateful neuron module advances by one
/// <see cref="IfNeuron.Step"/>; the output layer adds I(t) to a running sum, divided by T at the end.
/// No chunking, no reuse, no linearity shortcut: the optimized <see cref="SpikingNetwork.Run"/> is tested against it.
/// </summary>
public static class NaiveSimulator
{
    /// <summary>Simulates T steps and returns the mean output (1/T) sum_t I_last(t), [B, classes].</summary>
    /// <param name="network">The network (unchanged).</param>
    /// <param name="images">[B, ...InputShape].</param>
    /// <param name="timeSteps">T &gt;= 1.</param>
    /// <exception cref="ArgumentException">T &lt; 1 or a wrong image shape.</exception>
    public static Tensor Run(SpikingNetwork network, Tensor images, int timeSteps)
    {
        Guard.AtLeast(timeSteps, 1, nameof(timeSteps), "time steps T");
        Guard.SameShape(images, [images.shape[0], .. network.InputShape], nameof(images));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var layers = network.Layers;
        var neurons = layers.Select(l => l.HasNeuron ? new StatefulNeuron(l, images.shape[0], images.dtype) : null).ToArray();
        Tensor? sum = null;
        for (var t = 0; t < timeSteps; t++)
        {
            // What a step creates dies with the step, as in an eager PyTorch loop; only v(t) and the sum carry over.
            using var stepScope = NewDisposeScope();
            var outputs = new Tensor[layers.Count];
            for (var l = 0; l < layers.Count; l++)
            {
                Tensor? current = null;
                foreach (var input in layers[l].Inputs)
                {
                    var x = input.Source == SpikingNetwork.ImageSource ? images : outputs[input.Source];
                    var c = input.Synapse is null ? x : input.Synapse.Forward(x);
                    current = current is null ? c : current.add(c, Scalars.One);
                }

                if (neurons[l] is { } neuron)
                {
                    outputs[l] = neuron.Step(current!);
                }
                else
                {
                    var next = (sum is null ? current!.clone() : sum.add(current!, Scalars.One)).DetachFromDisposeScope();
                    sum?.Dispose();
                    sum = next;
                }
            }
        }

        scope.Attach(sum!);
        foreach (var neuron in neurons)
        {
            neuron?.Dispose();
        }

        using var steps = timeSteps.ToScalar();
        return sum!.div(steps).MoveToOuterDisposeScope();
    }

    /// <summary>A neuron module holding v(t) and advancing it with the pure <see cref="IfNeuron.Step"/>.</summary>
    private sealed class StatefulNeuron(SpikingLayer layer, long batch, ScalarType dtype) : IDisposable
    {
        private readonly Tensor threshold = layer.Threshold!.to_type(dtype);
        private Tensor potential = layer.InitialPotential!.to_type(dtype).expand([batch, .. layer.NeuronShape]);

        public Tensor Step(Tensor current)
        {
            var (spikes, next) = IfNeuron.Step(potential, current, threshold);
            next.DetachFromDisposeScope();
            potential.Dispose();
            potential = next;
            return spikes * threshold;
        }

        public void Dispose() => potential.Dispose();
    }
}
