using System.Reflection;
using Accelerate.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate.Runtime.Tests.Native;

[TestClass]
public sealed class LibTorchLoaderTests
{
    [TestMethod]
    public void Libtorch_loads_in_the_test_process()
    {
        LibTorchLoader.EnsureLoaded();

        Assert.IsTrue(torch.TryInitializeDeviceType(DeviceType.CPU));
    }

    [TestMethod]
    public void A_small_model_runs_forward_and_backward()
    {
        LibTorchLoader.EnsureLoaded();
        torch.manual_seed(1);
        var model = nn.Sequential(("fc1", nn.Linear(4, 8)), ("relu", nn.ReLU()), ("fc2", nn.Linear(8, 1)));
        var optimizer = optim.SGD(model.parameters(), 0.1);
        var inputs = torch.randn(16, 4);
        var targets = inputs.sum(1, keepdim: true);

        var first = nn.functional.mse_loss(model.forward(inputs), targets);
        first.backward();
        var gradients = model.parameters().Select(p => p.grad).ToList();
        optimizer.step();
        var second = nn.functional.mse_loss(model.forward(inputs), targets);

        Assert.IsTrue(gradients.All(g => g is not null && g.abs().sum().item<float>() > 0), "every parameter gets a gradient");
        Assert.IsTrue(second.item<float>() < first.item<float>(), $"one SGD step lowers the loss ({first.item<float>()} -> {second.item<float>()})");
    }

    [TestMethod]
    public void The_output_folder_holds_a_library_the_loader_accepts()
    {
        var library = LibTorchLoader.FindLibTorchSharp();

        Assert.IsNotNull(library);
        Assert.AreNotEqual(PackagedLibrary, library);
    }

    [TestMethod]
    public void An_unrepaired_library_is_explained_with_the_missing_version_and_the_fix()
    {
        var message = LibTorchLoader.Explain(PackagedLibrary, new TypeInitializationException("TorchSharp.torch", null));

        if (!message.Contains("GLIBCXX_3.4.32"))
            Assert.Inconclusive("This machine's libstdc++ loads the packaged library as it is: " + message);
        StringAssert.Contains(message, PackagedLibrary);
        StringAssert.Contains(message, "Accelerate.Sdk");
        StringAssert.Contains(message, "GCC 13.2");
    }

    [TestMethod]
    public void A_missing_library_names_the_folder_and_the_package_to_reference()
    {
        var message = LibTorchLoader.Explain(null, new DllNotFoundException("LibTorchSharp"));

        StringAssert.Contains(message, AppContext.BaseDirectory);
        StringAssert.Contains(message, "libtorch-cpu-linux-x64");
    }

    private static string PackagedLibrary => Path.Combine(
        typeof(LibTorchLoaderTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "TorchSharpPackageRoot").Value!,
        "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
}
