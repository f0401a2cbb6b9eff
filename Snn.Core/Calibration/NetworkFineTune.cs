using System.Diagnostics;
using Snn.Core.Native;
using Snn.Core.Simulation;
using Snn.Core.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Snn.Core.Calibration;

/// <summary>Settings of the whole-network fine-tune.</summary>
public sealed record NetworkFineTuneOptions
{
    /// <summary>Adam's learning rate, in (0, 1].</summary>
    public double LearningRate { get; init; } = 1e-4;

    /// <summary>Passes over the training batches, &gt;= 1.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Initial alpha of every layer's surrogate spike (learnable per layer), &gt; 0.</summary>
    public double InitialSlope { get; init; } = Neurons.SurrogateSpike.InitialSlope;

    /// <summary>
    /// Adam's rate per optimisation step s (s counted over all epochs from 0), e.g. a
    /// <see cref="CosineSchedule"/> over epochs x batches; null: <see cref="LearningRate"/> at every step.
    /// </summary>
    public ILearningRateSchedule? Schedule { get; init; }

    /// <summary>
    /// The objective of a batch, given (images, the network's output, labels), e.g.
    /// <see cref="Distillation.Objective"/> from an ANN teacher; null: cross-entropy of the output.
    /// </summary>
    public TrainingLoss? Loss { get; init; }

    /// <summary>Stop the soft reset's gradient (see <see cref="SurrogateStep"/>).</summary>
    public bool DetachReset { get; init; } = true;

    /// <summary>
    /// Train on every step's output: L = (1/T) sum_t loss(o(t)), o(t) the output layer's current at step t
    /// (temporal efficient training, TET: Deng et al., ICLR 2022, without its MSE regulariser); false: the loss of
    /// the network's readout, the mean of o(t) over T. The two agree at T = 1. Held-out accuracy is always the readout's.
    /// </summary>
    public bool PerStepLoss { get; init; }

    /// <summary>
    /// Decay d in [0, 1) of an exponential moving average of the trained parameters, a = d' a + (1 - d') p after every
    /// step with d' = min(d, (1 + n) / (10 + n)) at the n-th step (n from 0, TensorFlow's ExponentialMovingAverage);
    /// the average, not the last parameters, is scored on held-out after each epoch and kept. Null: no average.
    /// </summary>
    public double? AverageDecay { get; init; }

    /// <summary>Checks every setting; throws an ArgumentException naming the first one out of range.</summary>
    public void Validate()
    {
        if (!(LearningRate > 0 && LearningRate <= 1))
        {
            throw new ArgumentException($"{nameof(LearningRate)} = {LearningRate} is out of range: expected (0, 1]", nameof(LearningRate));
        }

        Guard.AtLeast(Epochs, 1, nameof(Epochs), "epochs");
        Guard.Positive(InitialSlope, nameof(InitialSlope));
        if (AverageDecay is { } d && !(d >= 0 && d < 1))
        {
            throw new ArgumentException($"{nameof(AverageDecay)} = {d} is out of range: expected [0, 1)", nameof(AverageDecay));
        }
    }
}

/// <summary>What the fine-tune did: training loss per epoch, held-out accuracy before and after each epoch, the epoch kept.</summary>
/// <param name="TrainLoss">Mean training loss of each epoch (the options' objective), one entry per epoch.</param>
/// <param name="HeldOutAccuracy">Held-out accuracy (%) before fine-tuning (entry 0) and after each epoch.</param>
/// <param name="BestEpoch">The epoch whose weights were kept (0: the network as it was), by held-out accuracy.</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record NetworkFineTuneHistory(IReadOnlyList<double> TrainLoss, IReadOnlyList<double> HeldOutAccuracy, int BestEpoch, TimeSpan Elapsed);

/// <summary>
/// Fine-tunes a whole spiking network at its T by backpropagation through time with the surrogate
/// spike (the direction issue 16 names after Phase II's layer-wise calibration): every synapse's
/// weight and bias, every layer's v(0) and surrogate slope are trained with Adam (rate per step from the
/// options' schedule) on the cross-entropy, or the options' objective, of the network's output (the mean over T of the last layer's current;
/// with PerStepLoss of each step's current), optionally keeping a moving average of them (AverageDecay), the images fed as analog
/// current at every step. The thresholds stay fixed. Each layer's dynamics are
/// <see cref="SurrogateStep"/>'s (forward exactly the simulator's IF neuron). The weights with the best
/// held-out accuracy (before fine-tuning included) are kept: never chosen on test data.
/// </summary>
public static class NetworkFineTune
{
    /// <summary>Fine-tunes <paramref name="network"/> in place.</summary>
    /// <param name="network">The spiking network (float32).</param>
    /// <param name="epochBatches">epoch (0-based) -&gt; its training batches (images, labels); each batch is disposed here after use.</param>
    /// <param name="heldOut">
    /// Early-stopping batches (images, labels) from training data, never test data: at least one, on the network's device (as the
    /// training batches). Enumerated once before fine-tuning and once after each epoch, so it may decode its batches anew on each
    /// pass; a batch is not kept after the next is taken.
    /// </param>
    /// <param name="timeSteps">T &gt;= 1.</param>
    /// <param name="options">Settings; null for defaults.</param>
    /// <param name="onBatch">Called after each batch with (epoch, running mean loss), or null.</param>
    public static NetworkFineTuneHistory FineTune(
        SpikingNetwork network, Func<int, IEnumerable<(Tensor Images, Tensor Labels)>> epochBatches,
        IEnumerable<(Tensor Images, Tensor Labels)> heldOut, int timeSteps, NetworkFineTuneOptions? options = null,
        Action<int, double>? onBatch = null)
    {
        options ??= new NetworkFineTuneOptions();
        options.Validate();
        Guard.AtLeast(timeSteps, 1, nameof(timeSteps), "time steps T");
        ArgumentNullException.ThrowIfNull(heldOut);

        var clock = Stopwatch.StartNew();
        using var model = new TrainableNetwork(network, options.InitialSlope, options.DetachReset);
        using var adam = optim.Adam(model.Parameters, options.LearningRate);

        var heldOutAccuracy = new List<double> { model.Accuracy(heldOut, timeSteps) };
        var trainLoss = new List<double>();
        var best = heldOutAccuracy[0];
        var bestEpoch = 0;
        var bestState = model.Snapshot();
        var loss = options.Loss ?? ((_, logits, labels) => nn.functional.cross_entropy(logits, labels));
        using var average = options.AverageDecay is { } decay ? new ParameterAverage(model, decay) : null;
        long step = 0;
        for (var epoch = 0; epoch < options.Epochs; epoch++)
        {
            double sum = 0;
            long count = 0;
            foreach (var (images, labels) in epochBatches(epoch))
            {
                using var scope = NewDisposeScope();
                scope.Attach(images);
                scope.Attach(labels);
                SetRate(adam, options, step++);
                adam.zero_grad();
                var batchLoss = BatchLoss(model, loss, images, labels, timeSteps, options.PerStepLoss);
                batchLoss.backward();
                adam.step();
                average?.Update();
                sum += batchLoss.detach().to_type(ScalarType.Float64).item<double>() * labels.shape[0];
                count += labels.shape[0];
                onBatch?.Invoke(epoch, sum / count);
            }

            trainLoss.Add(count == 0 ? 0 : sum / count);
            var live = average is null ? null : model.Snapshot();
            average?.Load();
            var accuracy = model.Accuracy(heldOut, timeSteps);
            heldOutAccuracy.Add(accuracy);
            if (accuracy > best)
            {
                best = accuracy;
                bestEpoch = epoch + 1;
                DisposeAll(bestState);
                bestState = model.Snapshot();
            }

            if (live is not null)
            {
                model.Restore(live);
                DisposeAll(live);
            }
        }

        model.Restore(bestState);
        DisposeAll(bestState);
        model.WriteBack();
        return new NetworkFineTuneHistory(trainLoss, heldOutAccuracy, bestEpoch, clock.Elapsed);
    }

    /// <summary>The objective of the readout, or its mean over the per-step outputs (TET).</summary>
    private static Tensor BatchLoss(TrainableNetwork model, TrainingLoss loss, Tensor images, Tensor labels, int timeSteps, bool perStep)
    {
        if (!perStep)
        {
            return loss(images, model.Forward(images, timeSteps), labels);
        }

        var outputs = model.ForwardSteps(images, timeSteps);
        var total = loss(images, outputs[0], labels);
        for (var t = 1; t < timeSteps; t++)
        {
            total = total.add(loss(images, outputs[t], labels), Scalars.One);
        }

        return total.div(timeSteps);
    }

    private static void SetRate(optim.Optimizer adam, NetworkFineTuneOptions options, long step)
    {
        var rate = options.Schedule?.RateAt(step) ?? options.LearningRate;
        foreach (var group in adam.ParamGroups)
        {
            group.LearningRate = rate;
        }
    }

    private static void DisposeAll(IEnumerable<Tensor> tensors)
    {
        foreach (var t in tensors)
        {
            t.Dispose();
        }
    }

    /// <summary>An exponential moving average of a network's parameters (see <see cref="NetworkFineTuneOptions.AverageDecay"/>).</summary>
    private sealed class ParameterAverage(TrainableNetwork model, double decay) : IDisposable
    {
        private readonly Tensor[] average = model.Snapshot();
        private long updates;

        /// <summary>a = d' a + (1 - d') p, d' = min(d, (1 + n) / (10 + n)).</summary>
        public void Update()
        {
            using var noGrad = no_grad();
            var d = Math.Min(decay, (1.0 + updates) / (10.0 + updates));
            updates++;
            for (var i = 0; i < average.Length; i++)
            {
                average[i].mul_(d).add_(model.Parameters[i], 1 - d);
            }
        }

        /// <summary>Copies the average into the network's parameters.</summary>
        public void Load() => model.Restore(average);

        public void Dispose() => DisposeAll(average);
    }

    /// <summary>The network's learnable tensors as parameters, and its differentiable T-step forward.</summary>
    private sealed class TrainableNetwork : IDisposable
    {
        private readonly SpikingNetwork network;
        private readonly bool detachReset;
        private readonly Parameter?[][] weights;
        private readonly Parameter?[][] biases;
        private readonly Parameter?[] initialPotentials;
        private readonly Parameter?[] slopes;

        public TrainableNetwork(SpikingNetwork network, double slope, bool detachReset)
        {
            this.network = network;
            this.detachReset = detachReset;
            var layers = network.Layers;
            weights = layers.Select(l => l.Inputs.Select(i => i.Synapse is null ? null : new Parameter(i.Synapse.Weight.detach().clone(), true)).ToArray()).ToArray();
            biases = layers.Select(l => l.Inputs.Select(i => i.Synapse?.Bias is null ? null : new Parameter(i.Synapse.Bias.detach().clone(), true)).ToArray()).ToArray();
            initialPotentials = layers.Select(l => l.InitialPotential is null ? null : new Parameter(l.InitialPotential.detach().clone(), true)).ToArray();
            slopes = layers.Select(l => l.HasNeuron ? new Parameter(torch.tensor(slope, float32, network.Device), true) : null).ToArray();
            Parameters = weights.SelectMany(w => w).Concat(biases.SelectMany(b => b)).Concat(initialPotentials).Concat(slopes)
                .Where(p => p is not null).Select(p => p!).ToList();
        }

        public List<Parameter> Parameters { get; }

        /// <summary>Logits [B, classes]: the mean over T of the output layer's current.</summary>
        public Tensor Forward(Tensor images, int timeSteps) => Run(images, timeSteps, perStep: false);

        /// <summary>The output layer's current at every step, [T, B, classes].</summary>
        public Tensor ForwardSteps(Tensor images, int timeSteps) => Run(images, timeSteps, perStep: true);

        private Tensor Run(Tensor images, int timeSteps, bool perStep)
        {
            var batch = images.shape[0];
            var outputs = new Tensor?[network.Layers.Count];
            Tensor? logits = null;
            for (var l = 0; l < network.Layers.Count; l++)
            {
                var layer = network.Layers[l];
                Tensor? constant = null, current = null;
                for (var i = 0; i < layer.Inputs.Count; i++)
                {
                    var input = layer.Inputs[i];
                    var x = input.Source == SpikingNetwork.ImageSource ? images : outputs[input.Source]!;
                    var spiking = input.Source != SpikingNetwork.ImageSource;
                    var flat = spiking ? x.flatten(0, 1) : x;
                    var c = input.Synapse is null ? flat : input.Synapse.Apply(flat, weights[l][i]!, biases[l][i]);
                    if (spiking)
                    {
                        c = c.unflatten(0, [timeSteps, batch]);
                        current = current is null ? c : current.add(c, Scalars.One);
                    }
                    else
                    {
                        constant = constant is null ? c : constant.add(c, Scalars.One);
                    }
                }

                if (!layer.HasNeuron)
                {
                    var total = current is null ? constant! : constant is null ? current.mean([0]) : current.mean([0]).add(constant, Scalars.One);
                    logits = perStep ? PerStep(current, constant, timeSteps) : total;
                    outputs[l] = total;
                    continue;
                }

                var theta = layer.Threshold!;
                var v = initialPotentials[l]!.expand([batch, .. layer.NeuronShape]);
                var steps = new Tensor[timeSteps];
                for (var t = 0; t < timeSteps; t++)
                {
                    var it = current is null ? constant! : constant is null ? current[t] : current[t].add(constant, Scalars.One);
                    (v, steps[t]) = SurrogateStep.Step(v, it, theta, slopes[l]!, detachReset);
                }

                outputs[l] = stack(steps);
            }

            return logits!;
        }

        /// <summary>[T, B, ...]: each step's current plus the constant (image-fed) part.</summary>
        private static Tensor PerStep(Tensor? current, Tensor? constant, int timeSteps) =>
            current is null ? constant!.unsqueeze(0).expand([timeSteps, .. constant.shape])
            : constant is null ? current
            : current.add(constant, Scalars.One);

        /// <summary>Accuracy (%) of the current parameters on labelled batches.</summary>
        /// <exception cref="ArgumentException">No batch, or a batch on another device than the network's.</exception>
        public double Accuracy(IEnumerable<(Tensor Images, Tensor Labels)> batches, int timeSteps)
        {
            using var noGrad = no_grad();
            long correct = 0, seen = 0;
            var any = false;
            foreach (var (images, labels) in batches)
            {
                network.EnsureOnDevice(images, "heldOut");
                using var scope = NewDisposeScope();
                correct += Forward(images, timeSteps).argmax(1).eq(labels).sum().item<long>();
                seen += labels.shape[0];
                any = true;
            }

            if (!any)
            {
                throw new ArgumentException("at least one held-out batch is needed for early stopping", "heldOut");
            }

            return 100.0 * correct / Math.Max(1, seen);
        }

        public Tensor[] Snapshot()
        {
            using var noGrad = no_grad();
            return Parameters.Select(p => p.detach().clone().DetachFromDisposeScope()).ToArray();
        }

        public void Restore(Tensor[] state)
        {
            using var noGrad = no_grad();
            for (var i = 0; i < Parameters.Count; i++)
            {
                Parameters[i].copy_(state[i]);
            }
        }

        /// <summary>Copies the parameters into the network's synapses and v(0).</summary>
        public void WriteBack()
        {
            using var noGrad = no_grad();
            for (var l = 0; l < network.Layers.Count; l++)
            {
                var layer = network.Layers[l];
                for (var i = 0; i < layer.Inputs.Count; i++)
                {
                    layer.Inputs[i].Synapse?.Assign(weights[l][i]!, biases[l][i]);
                }

                if (initialPotentials[l] is { } v0)
                {
                    layer.AssignInitialPotential(v0);
                }
            }
        }

        public void Dispose()
        {
            foreach (var p in Parameters)
            {
                p.Dispose();
            }
        }
    }
}
