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

    /// <summary>
    /// Train every layer's threshold theta too (as DIET-SNN does after conversion: Rathi and Roy, IEEE TNNLS 2021), through
    /// the surrogate (dg/dtheta = -dg/dv), the output o = theta * s and the reset; after each step theta is lifted back to at
    /// least <see cref="TrainableNetwork.ThresholdFloor"/> times its start, so theta &gt; 0 always. False: thresholds fixed.
    /// </summary>
    public bool LearnThresholds { get; init; }

    /// <summary>
    /// How the loss reaches the weights through each IF layer: <see cref="FineTuneGradient.Surrogate"/> (BPTT with the
    /// surrogate spike, the default) or <see cref="FineTuneGradient.Rate"/> (through the layer's firing rate, DSR:
    /// Meng et al., CVPR 2022). The forward pass is the simulator's either way.
    /// </summary>
    public FineTuneGradient Gradient { get; init; } = FineTuneGradient.Surrogate;

    /// <summary>
    /// Batch-normalise every synapse's current into a spiking layer while training, with statistics over time and batch
    /// (threshold-dependent batch normalisation's: Zheng et al., AAAI 2021; <see cref="SynapseBatchNorm"/>), starting as the identity
    /// and folded into the synapse's weight and bias afterwards, so the network keeps its shape and the simulator its IF
    /// neurons. Held-out accuracy is scored with the running statistics, i.e. the folded network. Every such synapse needs a
    /// bias. Not with <see cref="AverageDecay"/> (the running statistics are not averaged).
    /// </summary>
    public bool BatchNorm { get; init; }

    /// <summary>Checks every setting; throws an ArgumentException naming the first one out of range.</summary>
    public void Validate()
    {
        if (!(LearningRate > 0 && LearningRate <= 1))
        {
            throw new ArgumentException($"{nameof(LearningRate)} = {LearningRate} is out of range: expected (0, 1]", nameof(LearningRate));
        }

        Guard.AtLeast(Epochs, 1, nameof(Epochs), "epochs");
        Guard.Positive(InitialSlope, nameof(InitialSlope));
        if (!Enum.IsDefined(Gradient))
        {
            throw new ArgumentException($"{nameof(Gradient)} = {Gradient} is not one of Surrogate, Rate", nameof(Gradient));
        }

        if (AverageDecay is { } d && !(d >= 0 && d < 1))
        {
            throw new ArgumentException($"{nameof(AverageDecay)} = {d} is out of range: expected [0, 1)", nameof(AverageDecay));
        }

        if (BatchNorm && AverageDecay is not null)
        {
            throw new ArgumentException(
                $"{nameof(BatchNorm)} cannot be combined with {nameof(AverageDecay)}: the batch statistics are not averaged", nameof(BatchNorm));
        }
    }
}

/// <summary>How the whole-network fine-tune differentiates the spiking layers (the forward pass is the simulator's either way).</summary>
public enum FineTuneGradient
{
    /// <summary>
    /// Backpropagation through time: each step's spike s = H(v - theta) differentiates as the surrogate
    /// 0.5 tanh(alpha (v - theta)) + 0.5 (<see cref="Neurons.SurrogateSpike"/>), through charge and soft reset.
    /// </summary>
    Surrogate,

    /// <summary>
    /// Through the firing rate (differentiation on spike representation, DSR: Meng et al., CVPR 2022): with zbar the
    /// layer's input current averaged over the T steps, every step's output theta * s(t) passes the gradient of the proxy
    /// r = min(max(zbar + (v(0) - theta / 2) / T, 0), theta), the straight-through estimate of the IF rate
    /// theta * n / T = zbar + (v(0) - v(T)) / T; so dr/dzbar = 1 and dr/dv(0) = 1 / T where 0 &lt; r &lt; theta, 0 elsewhere,
    /// and no gradient flows through time inside a layer. The surrogate slopes alpha get no gradient.
    /// </summary>
    Rate,
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
/// current at every step, optionally with batch normalisation folded back afterwards (BatchNorm). The thresholds stay fixed unless LearnThresholds. Each layer's dynamics are
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
        using var model = new TrainableNetwork(
            network, options.InitialSlope, options.DetachReset, options.LearnThresholds, options.Gradient, options.BatchNorm);
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
            model.Training = true;
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
                model.KeepThresholdsPositive();
                average?.Update();
                sum += batchLoss.detach().to_type(ScalarType.Float64).item<double>() * labels.shape[0];
                count += labels.shape[0];
                onBatch?.Invoke(epoch, sum / count);
            }

            model.Training = false;
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
        if (bestEpoch > 0)
        {
            model.WriteBack();
        }

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
}
