using Accelerate.Configuration;

namespace Accelerate.Cli.Tests.Config;

/// <summary>The real command in a child process: with pipes (no terminal) and inside a pseudo-terminal.</summary>
[TestClass]
public sealed class ConfigProcessTests
{
    [TestMethod]
    public void With_stdin_not_a_terminal_config_exits_at_once_pointing_to_config_default()
    {
        using var home = new TemporaryHome();
        using var accelerate = AccelerateProcess.Start(home.Environment, "config");

        // Nothing is written to stdin: a command that waited for an answer would hit the timeout instead of exiting.
        Assert.AreEqual(1, accelerate.WaitForExit());

        StringAssert.Contains(accelerate.Error, "error ACC2408: the questionnaire needs a terminal");
        StringAssert.Contains(accelerate.Error, "`accelerate config default`");
        Assert.IsFalse(File.Exists(home.DefaultFile));
    }

    [TestMethod]
    public void In_a_terminal_the_arrow_key_menus_and_typed_answers_write_the_file()
    {
        if (AccelerateProcess.ScriptCommand is null) Assert.Inconclusive("util-linux `script` (package bsdutils) is needed to make a pseudo-terminal.");
        using var home = new TemporaryHome();
        using var accelerate = AccelerateProcess.StartInTerminal(home.Environment, "config");
        const string Down = "\u001b[B", Enter = "\r";

        var at = accelerate.WaitFor("> This machine");
        accelerate.Send(Enter);
        at = accelerate.WaitFor("> No distributed training", at);
        accelerate.Send(Down + Down + Enter);                       // multi-GPU
        at = accelerate.WaitFor("How many different machines will you use", at);
        accelerate.Send(Enter);                                     // 1 (default)
        at = accelerate.WaitFor("Should distributed operations be checked", at);
        accelerate.Send("n" + Enter);
        at = accelerate.WaitFor("How many GPU(s) should be used for distributed training?", at);
        accelerate.Send("2" + Enter);
        at = accelerate.WaitFor("What GPU(s) (by id)", at);
        accelerate.Send("0,1" + Enter);
        at = accelerate.WaitFor("Would you like to enable numa efficiency?", at);
        accelerate.Send(Enter);
        at = accelerate.WaitFor("Do you wish to use mixed precision?", at);
        accelerate.Send(Down + Enter);                              // fp16
        accelerate.WaitFor("accelerate configuration saved at " + home.DefaultFile, at);

        Assert.AreEqual(0, accelerate.WaitForExit(), accelerate.Output);
        var config = ConfigFile.Load(home.DefaultFile);
        Assert.AreEqual(DistributedType.MultiGpu, config.DistributedType);
        Assert.AreEqual(2, config.NumProcesses);
        Assert.AreEqual("0,1", config.GpuIds);
        Assert.AreEqual(MixedPrecision.Fp16, config.MixedPrecision);
    }

    [TestMethod]
    public void Config_default_then_env_show_the_same_file()
    {
        using var home = new TemporaryHome();
        using (var write = AccelerateProcess.Start(home.Environment, "config", "default", "--mixed-precision", "bf16"))
        {
            Assert.AreEqual(0, write.WaitForExit(), write.Error);
            StringAssert.Contains(write.Output, "accelerate configuration saved at " + home.DefaultFile);
        }
        using var env = AccelerateProcess.Start(home.Environment, "env");

        Assert.AreEqual(0, env.WaitForExit(), env.Error);
        StringAssert.Contains(env.Output, "- Config file: " + home.DefaultFile);
        StringAssert.Contains(env.Output, "\tmixed_precision: bf16");
    }
}
