using Snn.Core.Native;
using Snn.Core.Neurons;
using Snn.Core.Simulation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Snn.Core.Calibration;

/// <summary>The loss curve of one layer's weight calibration.</summary>
/// <param name="Layer">The layer's name.</param>
/// <param name="TrainLoss">Mean calibration loss of each epoch 1..E (while training).</param>
/// <param name="HeldOutLoss">Held-out loss before training (entry 0) and after each epoch.</param>
/// <param name="BestEpoch">The epoch whose state was kept (0 = the state before training).</param>
/// <param name="Slope">The surrogate slope alpha of the kept state.</param>
public sealed record LayerCalibrationHistory(string Layer, IReadOnlyList<double> TrainLoss, IReadOnlyList<double> HeldOutLoss, int BestEpoch, double Slope);

/// <summary>
/// Phase II step b (PAPER.md): layer-wise weight calibration. Layer l runs alone as an SNN for T
/// steps on its recorded input spike trains (taken from the network with every earlier layer as it
/// is), from v(0); its rate r_l = (1/T) sum_t theta * s(t) is compared with the ANN activation a_l by
/// <code>L = (1/B) sum_b KL(softmax(a_l[b]) || softmax(r_l[b]))   (features of a sample flattened)</code>
/// and L is backpropagated through time with <see cref="SurrogateSpike"/> (soft reset in the graph;
/// see <see cref="CalibrationOptions.DetachReset"/>). Adam updates the weights and biases of every
/// synapse into the layer, v(0) and alpha; the state with the lowest held-out loss (before training
/// included) is written back.
/// </summary>
public static class WeightCalibration
{
    /// <summary>Calibrates one spiking layer's synapses and v(0) in place and returns its loss history.</summary>
    /// <param name="network">The network; only this layer's incoming synapses and v(0) change.</param>
    /// <param name="neuronLayer">Index into <see cref="SpikingNetwork.NeuronLayers"/>, in [0, count).</param>
    /// <param name="annActivations">images -&gt; one ANN activation [B, ...NeuronShape] per spiking layer, in order.</param>
    /// <param name="calibration">Training batches [B, ...InputShape]; at least one.</param>
    /// <param name="heldOut">Early-stopping batches, disjoint from the calibration and test data; at least one.</param>
    /// <param name="timeSteps">T &gt;= 1.</param>
    /// <param name="options">Optimiser and stopping options; null for defaults.</param>
    /// <exception cref="ArgumentException">An argument out of its range.</exception>
    public static LayerCalibrationHistory CalibrateLayer(
        SpikingNetwork network, int neuronLayer, Func<Tensor, Tensor[]> annActivations,
        IReadOnlyList<Tensor> calibration, IReadOnlyList<Tensor> heldOut, int timeSteps, CalibrationOptions? options = null)
    {
        options ??= new CalibrationOptions();
        options.Validate();
        var index = AnnTargets.CheckIndex(network, neuronLayer);
        AnnTargets.CheckBatches(calibration, nameof(calibration));
        AnnTargets.CheckBatches(heldOut, nameof(heldOut));
        Guard.AtLeast(timeSteps, 1, nameof(timeSteps), "time steps T");

        using var scope = NewDisposeScope();
        var layer = network.Layers[index];
        var dtype = calibration[0].dtype;
        var train = new LayerInputs(network, index, neuronLayer, annActivations, calibration, timeSteps, options.CacheBytes / 2);
        var held = new LayerInputs(network, index, neuronLayer, annActivations, heldOut, timeSteps, options.CacheBytes / 2);

        var synapses = layer.Inputs.Select(i => i.Synapse).ToArray();
        var weights = synapses.Select(s => s is null ? null : new Parameter(s.Weight.detach().clone(), true)).ToArray();
        var biases = synapses.Select(s => s?.Bias is null ? null : new Parameter(s.Bias.detach().clone(), true)).ToArray();
        var v0 = new Parameter(layer.InitialPotential!.detach().to_type(dtype).clone(), true);
        var slope = new Parameter(torch.tensor(options.InitialSlope, dtype, calibration[0].device), true);
        var theta = layer.Threshold!.to_type(dtype);
        var parameters = weights.Concat(biases).Where(p => p is not null).Select(p => p!).Append(v0).Append(slope).ToList();
        using var adam = torch.optim.Adam(parameters, options.LearningRate);

        Tensor Loss(Tensor[] inputs, Tensor target)
        {
            var rate = Rate(layer, inputs, weights, biases, v0, theta, slope, timeSteps, options.DetachReset);
            return KullbackLeibler(target, rate);
        }

        double HeldOutLoss()
        {
            using var noGrad = no_grad();
            double sum = 0;
            long count = 0;
            for (var b = 0; b < held.Count; b++)
            {
                using var batchScope = NewDisposeScope();
                var (inputs, target) = held.Get(b);
                sum += Loss(inputs, target).to_type(ScalarType.Float64).item<double>() * target.shape[0];
                count += target.shape[0];
            }

            return sum / count;
        }

        Tensor[] Snapshot() => parameters.Select(p => p.detach().clone().MoveToOuterDisposeScope()).ToArray();

        var heldOutLoss = new List<double> { HeldOutLoss() };
        var trainLoss = new List<double>();
        var best = heldOutLoss[0];
        var bestEpoch = 0;
        var bestState = Snapshot();
        var stale = 0;
        for (var epoch = 1; epoch <= options.MaxEpochs && stale < options.Patience; epoch++)
        {
            double sum = 0;
            long count = 0;
            for (var b = 0; b < train.Count; b++)
            {
                using var batchScope = NewDisposeScope();
                var (inputs, target) = train.Get(b);
                adam.zero_grad();
                var loss = Loss(inputs, target);
                loss.backward();
                adam.step();
                sum += loss.detach().to_type(ScalarType.Float64).item<double>() * target.shape[0];
                count += target.shape[0];
            }

            trainLoss.Add(sum / count);
            var h = HeldOutLoss();
            heldOutLoss.Add(h);
            if (h < best)
            {
                best = h;
                bestEpoch = epoch;
                foreach (var t in bestState)
                {
                    t.Dispose();
                }

                bestState = Snapshot();
                stale = 0;
            }
            else
            {
                stale++;
            }
        }

        using (no_grad())
        {
            for (var i = 0; i < parameters.Count; i++)
            {
                parameters[i].copy_(bestState[i]);
            }

            for (var i = 0; i < synapses.Length; i++)
            {
                synapses[i]?.Assign(weights[i]!, biases[i]);
            }

            layer.AssignInitialPotential(v0);
        }

        var finalSlope = slope.to_type(ScalarType.Float64).item<double>();
        foreach (var p in parameters)
        {
            p.Dispose();
        }

        train.Dispose();
        held.Dispose();
        return new LayerCalibrationHistory(layer.Name, trainLoss, heldOutLoss, bestEpoch, finalSlope);
    }

    /// <summary>L = (1/B) sum_b sum_i p_i (log p_i - log q_i), p = softmax(a[b]), q = softmax(r[b]) over flattened features.</summary>
    /// <param name="target">a, [B, ...].</param>
    /// <param name="rate">r, [B, ...], same shape.</param>
    public static Tensor KullbackLeibler(Tensor target, Tensor rate)
    {
        using var scope = NewDisposeScope();
        var logP = target.flatten(1).log_softmax(1);
        var logQ = rate.flatten(1).log_softmax(1);
        using var batch = target.shape[0].ToScalar();
        var loss = (logP.exp() * (logP - logQ)).sum().div(batch);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The differentiable T-step run of one layer: I(t) = sum_i W_i x_i(t) + b_i, then per step
    /// <see cref="IfNeuron.Charge"/>, the surrogate spike s(t) (<see cref="SurrogateSpike.Apply"/>: forward
    /// exactly <see cref="IfNeuron.Fire"/>) and <see cref="IfNeuron.Reset"/> (with s(t) detached when
    /// <paramref name="detachReset"/>); returns r = (1/T) sum_t theta * s(t), summed step by step.
    /// </summary>
    private static Tensor Rate(SpikingLayer layer, Tensor[] inputs, Parameter?[] weights, Parameter?[] biases,
        Tensor v0, Tensor theta, Tensor slope, int timeSteps, bool detachReset)
    {
        Tensor? current = null, constant = null;
        long batch = 0;
        for (var i = 0; i < layer.Inputs.Count; i++)
        {
            var input = layer.Inputs[i];
            var synapse = input.Synapse;
            if (input.Source == SpikingNetwork.ImageSource)
            {
                var c = synapse is null ? inputs[i] : synapse.Apply(inputs[i], weights[i]!, biases[i]);
                constant = constant is null ? c : constant.add(c, Scalars.One);
                batch = inputs[i].shape[0];
            }
            else
            {
                var x = inputs[i];
                batch = x.shape[1];
                var c = synapse is null ? x : synapse.Apply(x.flatten(0, 1), weights[i]!, biases[i]).unflatten(0, [timeSteps, batch]);
                current = current is null ? c : current.add(c, Scalars.One);
            }
        }

        var v = v0.expand([batch, .. layer.NeuronShape]);
        Tensor? sum = null;
        for (var t = 0; t < timeSteps; t++)
        {
            var it = current is null ? constant! : constant is null ? current[t] : current[t].add(constant, Scalars.One);
            (v, var o) = SurrogateStep.Step(v, it, theta, slope, detachReset);
            sum = sum is null ? o : sum.add(o, Scalars.One);
        }

        using var steps = timeSteps.ToScalar();
        return sum!.div(steps);
    }

    /// <summary>
    /// Layer l's inputs per batch: spike trains [T, B, ...] of its spiking sources (simulated with the
    /// network as it is) or the images for image inputs, and the ANN target a_l. Spike trains are cached
    /// as one byte per spike when they fit the budget, and re-simulated otherwise.
    /// </summary>
    private sealed class LayerInputs : IDisposable
    {
        private readonly SpikingNetwork network;
        private readonly int index;
        private readonly int neuronLayer;
        private readonly Func<Tensor, Tensor[]> annActivations;
        private readonly IReadOnlyList<Tensor> batches;
        private readonly int timeSteps;
        private readonly (Tensor?[] Spikes, Tensor Target)?[] cache;
        private readonly bool caching;

        public LayerInputs(SpikingNetwork network, int index, int neuronLayer, Func<Tensor, Tensor[]> annActivations, IReadOnlyList<Tensor> batches, int timeSteps, long budget)
        {
            this.network = network;
            this.index = index;
            this.neuronLayer = neuronLayer;
            this.annActivations = annActivations;
            this.batches = batches;
            this.timeSteps = timeSteps;
            var layer = network.Layers[index];
            long images = batches.Sum(b => b.shape[0]);
            long bytes = layer.Inputs.Where(i => i.Source >= 0)
                .Sum(i => network.Layers[i.Source].NeuronShape.Aggregate(1L, (a, d) => a * d)) * timeSteps * images;
            caching = bytes <= budget;
            cache = new (Tensor?[], Tensor)?[batches.Count];
        }

        public int Count => batches.Count;

        /// <summary>Inputs (float, one per layer input) and target for batch b, in the caller's scope.</summary>
        public (Tensor[] Inputs, Tensor Target) Get(int b)
        {
            var images = batches[b];
            var layer = network.Layers[index];
            if (cache[b] is not { } entry)
            {
                using var scope = NewDisposeScope();
                var spikes = Simulate(images);
                var target = AnnTargets.For(network, annActivations, images, neuronLayer);
                entry = (spikes.Select(s => s?.MoveToOuterDisposeScope()).ToArray(), target.MoveToOuterDisposeScope());
                if (caching)
                {
                    foreach (var s in entry.Spikes)
                    {
                        s?.DetachFromDisposeScope();
                    }

                    entry.Target.DetachFromDisposeScope();
                    cache[b] = entry;
                }
            }

            var inputs = new Tensor[layer.Inputs.Count];
            for (var i = 0; i < inputs.Length; i++)
            {
                var source = layer.Inputs[i].Source;
                inputs[i] = source == SpikingNetwork.ImageSource
                    ? images
                    : entry.Spikes[i]!.to_type(images.dtype).mul_(network.Layers[source].Threshold!.to_type(images.dtype));
            }

            return (inputs, entry.Target);
        }

        private Tensor?[] Simulate(Tensor images)
        {
            var layer = network.Layers[index];
            var sources = layer.Inputs.Where(i => i.Source >= 0).Select(i => i.Source).ToArray();
            if (sources.Length == 0)
            {
                return new Tensor?[layer.Inputs.Count];
            }

            var last = sources.Max();
            var capture = new bool[last + 1];
            foreach (var s in sources)
            {
                capture[s] = true;
            }

            var run = network.Simulate(images, timeSteps, last, null, capture, SpikingNetwork.DefaultTimeChunk);
            return layer.Inputs.Select(i => i.Source >= 0 ? run.Trains[i.Source]!.gt(Scalars.Zero) : null).ToArray();
        }

        public void Dispose()
        {
            foreach (var entry in cache)
            {
                if (entry is { } e)
                {
                    foreach (var s in e.Spikes)
                    {
                        s?.Dispose();
                    }

                    e.Target.Dispose();
                }
            }
        }
    }
}
