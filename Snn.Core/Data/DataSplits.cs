namespace Snn.Core.Data;

/// <summary>
/// The three splits of an experiment (BENCHMARKS.md): Train = the first N_train - h training images,
/// HeldOut = the last h training images (calibration and early stopping only), Test = the test images.
/// Train and HeldOut are views of <see cref="FullTrain"/> (no copy). Dispose to free all tensors.
/// </summary>
public sealed class DataSplits : IDisposable
{
    private DataSplits(DatasetKind kind, string folder, ImageDataset fullTrain, ImageDataset test, int heldOut)
    {
        Kind = kind;
        Folder = folder;
        FullTrain = fullTrain;
        Test = test;
        Train = fullTrain.Subset(0, fullTrain.Count - heldOut, fullTrain.Name + "[train]");
        HeldOut = fullTrain.Subset(fullTrain.Count - heldOut, heldOut, fullTrain.Name + "[held-out]");
    }

    /// <summary>The dataset kind.</summary>
    public DatasetKind Kind { get; }

    /// <summary>The folder the data was read from.</summary>
    public string Folder { get; }

    /// <summary>All images of the training files (N_train, e.g. 60,000 for Fashion-MNIST).</summary>
    public ImageDataset FullTrain { get; }

    /// <summary>The first N_train - h training images.</summary>
    public ImageDataset Train { get; }

    /// <summary>The last h training images.</summary>
    public ImageDataset HeldOut { get; }

    /// <summary>The test images.</summary>
    public ImageDataset Test { get; }

    /// <summary>
    /// Locates (see <see cref="DatasetLocator"/>), reads and splits a dataset.
    /// </summary>
    /// <param name="kind">The dataset kind.</param>
    /// <param name="path">An explicit folder (--data), or null to use SNN_DATA / the Debian package folder.</param>
    /// <param name="heldOut">Held-out count h, in [0, N_train - 1]; BENCHMARKS.md uses 5,000.</param>
    /// <param name="imageSize">Side S of image-folder images in pixels, [1, 4096]; ignored by the other kinds.</param>
    /// <exception cref="DataFileException">Data not found or malformed; the message names the file.</exception>
    public static DataSplits Load(DatasetKind kind, string? path, int heldOut = 5000, int imageSize = 224)
    {
        var folder = DatasetLocator.Locate(path, kind);
        ImageDataset train;
        Func<ImageDataset> readTest;
        switch (kind)
        {
            case DatasetKind.FashionMnist or DatasetKind.Mnist:
                train = Idx.Read(folder, train: true, kind);
                readTest = () => Idx.Read(folder, train: false, kind);
                break;
            case DatasetKind.Cifar10:
                train = Cifar.Read10(folder, train: true);
                readTest = () => Cifar.Read10(folder, train: false);
                break;
            case DatasetKind.Cifar100:
                train = Cifar.Read100(folder, train: true);
                readTest = () => Cifar.Read100(folder, train: false);
                break;
            case DatasetKind.ImageFolder:
                train = ImageFolder.Read(Path.Combine(folder, "train"), imageSize);
                var testFolder = Path.Combine(folder, Directory.Exists(Path.Combine(folder, "val")) ? "val" : "test");
                readTest = () => ImageFolder.Read(testFolder, imageSize);
                break;
            default:
                throw new ArgumentException($"{nameof(kind)} = {kind} is not a known dataset kind", nameof(kind));
        }

        try
        {
            return FromDatasets(kind, folder, train, readTest(), heldOut);
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }

    /// <summary>Splits already-read datasets; ownership of both passes to the result.</summary>
    /// <param name="kind">The dataset kind.</param>
    /// <param name="folder">Where the data came from (for reports).</param>
    /// <param name="fullTrain">All training images, N_train &gt;= 1.</param>
    /// <param name="test">The test images, with the same C, H, W and classes as <paramref name="fullTrain"/>.</param>
    /// <param name="heldOut">Held-out count h, in [0, N_train - 1].</param>
    public static DataSplits FromDatasets(DatasetKind kind, string folder, ImageDataset fullTrain, ImageDataset test, int heldOut)
    {
        ArgumentNullException.ThrowIfNull(fullTrain);
        ArgumentNullException.ThrowIfNull(test);
        if (heldOut < 0 || heldOut >= fullTrain.Count)
        {
            throw new ArgumentException(
                $"{nameof(heldOut)} = {heldOut} is out of range: expected [0, {fullTrain.Count - 1}] (fewer than the {fullTrain.Count} training images)",
                nameof(heldOut));
        }

        if (!fullTrain.Images.shape.Skip(1).SequenceEqual(test.Images.shape.Skip(1)) || fullTrain.Classes != test.Classes)
        {
            throw new ArgumentException(
                $"{nameof(test)} has images [{string.Join(", ", test.Images.shape.Skip(1))}] and {test.Classes} classes: " +
                $"expected [{string.Join(", ", fullTrain.Images.shape.Skip(1))}] and {fullTrain.Classes} like the training set",
                nameof(test));
        }

        return new DataSplits(kind, folder, fullTrain, test, heldOut);
    }

    /// <summary>Frees every tensor of the four datasets.</summary>
    public void Dispose()
    {
        Train.Dispose();
        HeldOut.Dispose();
        FullTrain.Dispose();
        Test.Dispose();
    }
}
